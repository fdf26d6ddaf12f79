from smsvia.domain.encoding import gsm7, smart


def test_every_replacement_is_gsm7_and_every_replaced_character_is_not():
    for char, replacement in smart.LOOK_ALIKES.items():
        assert char not in gsm7.SEPTET_COST, char
        assert gsm7.is_gsm7(replacement), (char, replacement)


def test_invisible_characters_are_removed():
    text, replacements = smart.transliterate("a\u200bb\u00adc")
    assert text == "abc"
    assert [r.replacement for r in replacements] == ["", ""]


def test_non_breaking_spaces_become_spaces():
    assert smart.transliterate("10\u00a0€")[0] == "10 €"


def test_full_width_letters_and_digits_become_ascii():
    assert smart.transliterate("ＳＡＬＥ２０")[0] == "SALE20"


def test_zero_width_joiner_is_not_a_look_alike():
    assert smart.suggestion("\u200d") is None


def test_text_already_gsm7_has_no_replacements():
    assert smart.transliterate("plain text") == ("plain text", ())
