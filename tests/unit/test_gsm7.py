import pytest

from smsvia.domain.encoding import gsm7
from smsvia.domain.errors import UndecodableText


def test_basic_table_has_127_characters_and_the_escape():
    assert len(gsm7.BASIC_TABLE) == 128
    assert len(gsm7.BASIC_SEPTETS) == 127
    assert gsm7.BASIC_TABLE[gsm7.ESCAPE] == "\x1b"


@pytest.mark.parametrize(
    ("char", "septet"),
    [
        ("@", 0x00),
        ("£", 0x01),
        ("$", 0x02),
        ("è", 0x04),
        ("\n", 0x0A),
        ("Δ", 0x10),
        ("_", 0x11),
        ("É", 0x1F),
        ("¤", 0x24),
        ("¡", 0x40),
        ("§", 0x5F),
        ("¿", 0x60),
        ("à", 0x7F),
    ],
)
def test_known_positions_of_the_default_alphabet(char, septet):
    assert gsm7.encode(char) == bytes([septet])


def test_extension_characters_are_escaped():
    assert gsm7.encode("€") == b"\x1b\x65"
    assert gsm7.encode("{}") == b"\x1b\x28\x1b\x29"


def test_every_character_round_trips():
    text = "".join(gsm7.SEPTET_COST)
    assert gsm7.decode(gsm7.encode(text)) == text


def test_unknown_extension_septet_shows_the_basic_character():
    assert gsm7.decode(b"\x1b\x41") == "A"


def test_bytes_above_0x7f_are_not_septets():
    with pytest.raises(UndecodableText, match="0x80 at offset 1"):
        gsm7.decode(b"a\x80")


def test_trailing_escape_is_refused():
    with pytest.raises(UndecodableText):
        gsm7.decode(b"ab\x1b")


def test_packed_octets_single_and_concatenated():
    assert gsm7.packed_octets(160) == 140
    assert gsm7.packed_octets(153, udh_octets=6) == 140
    assert gsm7.packed_octets(154, udh_octets=6) == 141
