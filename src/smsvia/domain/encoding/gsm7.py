"""The GSM 03.38 default alphabet (3GPP TS 23.038 §6.2.1) as SMPP carries it: one septet a byte."""

from __future__ import annotations

from smsvia.domain.errors import UndecodableText

ESCAPE = 0x1B

# Indexed by septet value. 0x1B is the escape to the extension table, not a character;
# the placeholder at that index is skipped when the lookup table is built.
BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# §6.2.1.1, the default extension table: each character costs the escape plus one septet.
EXTENSION_TABLE = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

BASIC_SEPTETS = {char: value for value, char in enumerate(BASIC_TABLE) if value != ESCAPE}
_EXTENSION_BY_SEPTET = {value: char for char, value in EXTENSION_TABLE.items()}

# Septets each character costs; absent means "not in GSM-7".
SEPTET_COST = {char: 1 for char in BASIC_SEPTETS} | {char: 2 for char in EXTENSION_TABLE}


def is_gsm7(text: str) -> bool:
    """True when every character of `text` is in the default alphabet or its extension."""
    return all(char in SEPTET_COST for char in text)


def septet_count(text: str) -> int:
    """Septets `text` takes; the caller has checked it is GSM-7."""
    return len(text) + sum(1 for char in text if char in EXTENSION_TABLE)


def encode(text: str) -> bytes:
    """Unpacked septets, one a byte, extension characters behind the escape."""
    out = bytearray()
    for char in text:
        value = BASIC_SEPTETS.get(char)
        if value is None:
            out.append(ESCAPE)
            value = EXTENSION_TABLE[char]
        out.append(value)
    return bytes(out)


def decode(data: bytes) -> str:
    """Text from unpacked septets.

    An escape followed by a septet the extension table does not define shows the basic
    character, as TS 23.038 tells a receiving phone to do.
    """
    chars: list[str] = []
    escaped = False
    for position, value in enumerate(data):
        if value > 0x7F:
            raise UndecodableText(f"byte 0x{value:02X} at offset {position} is not a GSM-7 septet")
        if escaped:
            chars.append(_EXTENSION_BY_SEPTET.get(value) or BASIC_TABLE[value])
            escaped = False
        elif value == ESCAPE:
            escaped = True
        else:
            chars.append(BASIC_TABLE[value])
    if escaped:
        raise UndecodableText("GSM-7 text ends inside an escape sequence")
    return "".join(chars)


def packed_octets(septets: int, udh_octets: int = 0) -> int:
    """Octets of the over-the-air user data: septets packed 8 into 7 behind the header.

    With a header, fill bits pad it to a septet boundary (TS 23.040 §9.2.3.24).
    """
    header_bits = udh_octets * 8
    fill_bits = (7 - header_bits % 7) % 7 if udh_octets else 0
    return udh_octets + -(-(septets * 7 + fill_bits) // 8)
