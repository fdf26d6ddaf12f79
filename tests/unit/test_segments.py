import pytest

from smsvia.domain.encoding import Encoding, check_body, segment
from smsvia.domain.errors import BodyTooLong, InvalidBody

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def letters(count: int) -> str:
    return (LETTERS * (count // len(LETTERS) + 1))[:count]


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("1" * 160, 1),
        ("1" * 161, 2),
        ("1" * 306, 2),
        ("1" * 307, 3),
        ("{" + letters(158), 1),
        ("{" + letters(159), 2),
        ("😜" + letters(68), 1),
        ("😜" + letters(69), 2),
        ("😜" + letters(133), 3),
        ("🇮🇹" + letters(66), 1),
        ("🇮🇹" + letters(67), 2),
        ("é" + letters(159), 1),
        ("é" + letters(160), 2),
    ],
    ids=lambda value: value if isinstance(value, int) else f"{value[:2]}+{len(value)}",
)
def test_issue_vectors_give_the_segment_count(text, segments):
    assert segment(text).segments == segments


def test_e_acute_stays_gsm7():
    assert segment("é" + letters(159)).encoding == Encoding.GSM7


@pytest.mark.parametrize("char", list("^{}\\[]~|€\f"))
def test_extension_characters_cost_two_septets(char):
    result = segment(char * 80)
    assert (result.encoding, result.units, result.segments) == (Encoding.GSM7, 160, 1)
    assert segment(char * 80 + "a").segments == 2


def test_escape_is_never_split_across_parts():
    # 152 letters leave one septet in the first part: the euro sign's two go to the next one.
    result = segment(letters(152) + "€" + letters(10))
    assert result.parts[0] == letters(152)
    assert result.part_units == (152, 12)


def test_surrogate_pair_is_never_split_across_parts():
    result = segment(letters(66) + "😜" + letters(10))
    assert result.parts[0] == letters(66)
    assert result.part_units == (66, 12)


def test_ucs2_counts_utf16_code_units():
    result = segment("😜😜")
    assert (result.encoding, result.units) == (Encoding.UCS2, 4)


def test_320_gsm_characters_are_three_segments_and_the_explanation_says_why():
    result = segment("a" * 320)
    assert result.part_units == (153, 153, 14)
    explanation = result.explain()
    assert "3 segments (153 + 153 + 14)" in explanation
    assert "6-octet" in explanation
    assert "not 2" in explanation


def test_units_left_in_last_segment():
    assert segment("a" * 100).units_left == 60
    assert segment("a" * 200).units_left == 153 - 47
    assert segment("😜").units_left == 68


def test_ucs2_characters_are_reported_with_positions():
    result = segment("Hi 😜, it’s here")
    assert [(c.char, c.position) for c in result.ucs2_characters] == [("😜", 3), ("’", 8)]
    assert result.ucs2_characters[0].codepoint == "U+1F61C"
    assert result.ucs2_characters[1].name == "RIGHT SINGLE QUOTATION MARK"
    assert result.ucs2_characters[1].suggestion == "'"
    assert result.ucs2_characters[0].suggestion is None


def test_gsm7_text_reports_no_ucs2_characters():
    assert segment("Order #123 shipped: {track} €5 ~ok").ucs2_characters == ()


def test_empty_text_is_one_empty_segment():
    result = segment("")
    assert (result.segments, result.units, result.units_left) == (1, 0, 160)


def test_nul_is_refused_with_its_position():
    with pytest.raises(InvalidBody, match="NUL character at position 2"):
        check_body("ab\0c")


def test_lone_surrogate_is_refused():
    with pytest.raises(InvalidBody, match="lone surrogate U\\+D83D at position 1"):
        segment("a\ud83d")


def test_1600_characters_are_allowed_and_1601_are_not():
    assert segment("a" * 1600).segments == 11
    with pytest.raises(BodyTooLong) as error:
        segment("a" * 1601)
    assert error.value.code == 21617


def test_smart_encoding_brings_look_alikes_back_to_gsm7():
    result = segment("“Hello” — it’s ready…", smart_encoding=True)
    assert result.encoding == Encoding.GSM7
    assert result.text == '"Hello" - it\'s ready...'
    assert [(r.position, r.original) for r in result.replacements] == [
        (0, "“"),
        (6, "”"),
        (8, "—"),
        (12, "’"),
        (20, "…"),
    ]


def test_smart_encoding_keeps_text_that_would_stay_ucs2():
    result = segment("it’s 😜", smart_encoding=True)
    assert (result.text, result.encoding, result.replacements) == ("it’s 😜", Encoding.UCS2, ())


def test_smart_encoding_is_off_by_default():
    assert segment("it’s").encoding == Encoding.UCS2
