"""The exact `short_message` payloads an SMSC receives in `submit_sm`, and back again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from smsvia.domain.encoding import gsm7
from smsvia.domain.encoding.segments import Segmentation
from smsvia.domain.errors import UndecodableText

# SMPP 3.4 §5.2.19 data_coding values we send and accept.
DATA_CODING_DEFAULT = 0x00  # SMSC default alphabet: GSM 03.38, one septet an octet
DATA_CODING_IA5 = 0x01
DATA_CODING_LATIN1 = 0x03
DATA_CODING_UCS2 = 0x08

ESM_CLASS_UDHI = 0x40  # short_message begins with a user data header
MAX_TPDU_OCTETS = 140  # user data of one SMS over the air, header included

_IEI_CONCAT_8BIT = 0x00
_IEI_CONCAT_16BIT = 0x08


@dataclass(frozen=True, slots=True)
class Part:
    """One `submit_sm` (or `deliver_sm`) worth of a message."""

    short_message: bytes  # the header, when there is one, then the payload
    data_coding: int
    esm_class: int
    reference: int | None  # concatenation reference, shared by all parts of one message
    sequence: int  # 1-based
    total: int

    @property
    def udh(self) -> bytes:
        return self.short_message[: self._udh_length()]

    @property
    def payload(self) -> bytes:
        return self.short_message[self._udh_length() :]

    @property
    def air_octets(self) -> int:
        """Octets this part takes over the air, where GSM-7 septets are packed."""
        if self.data_coding == DATA_CODING_DEFAULT:
            return gsm7.packed_octets(len(self.payload), len(self.udh))
        return len(self.short_message)

    def text(self) -> str:
        """The payload decoded according to `data_coding`."""
        payload = self.payload
        if self.data_coding == DATA_CODING_DEFAULT:
            return gsm7.decode(payload)
        codec = _CODECS.get(self.data_coding)
        if codec is None:
            raise UndecodableText(f"data_coding 0x{self.data_coding:02X} is not a text coding")
        try:
            return payload.decode(codec)
        except UnicodeDecodeError as exc:
            raise UndecodableText(f"payload is not valid {codec}: {exc.reason}") from exc

    def _udh_length(self) -> int:
        if not self.esm_class & ESM_CLASS_UDHI or not self.short_message:
            return 0
        return 1 + self.short_message[0]


def concatenation_udh(reference: int, total: int, sequence: int) -> bytes:
    """The 6-octet header joining part `sequence` of `total` (8-bit reference)."""
    return bytes((0x05, _IEI_CONCAT_8BIT, 0x03, reference, total, sequence))


def to_parts(segmentation: Segmentation, reference: int) -> tuple[Part, ...]:
    """The `short_message` of each segment; `reference` (0-255) ties the parts together."""
    if not 0 <= reference <= 0xFF:
        raise ValueError(f"concatenation reference {reference} is not an octet")
    ucs2 = segmentation.encoding == "UCS-2"
    data_coding = DATA_CODING_UCS2 if ucs2 else DATA_CODING_DEFAULT
    total = segmentation.segments
    parts = []
    for sequence, text in enumerate(segmentation.parts, start=1):
        # UTF-16 rather than strict UCS-2: phones reassemble surrogate pairs, and the
        # splitter never separates one.
        payload = text.encode("utf-16-be") if ucs2 else gsm7.encode(text)
        if total == 1:
            parts.append(Part(payload, data_coding, 0, None, 1, 1))
        else:
            udh = concatenation_udh(reference, total, sequence)
            parts.append(
                Part(udh + payload, data_coding, ESM_CLASS_UDHI, reference, sequence, total)
            )
    return tuple(parts)


def parse_part(short_message: bytes, data_coding: int, esm_class: int) -> Part:
    """A received `short_message`, its concatenation header (8- or 16-bit reference) read."""
    if not esm_class & ESM_CLASS_UDHI:
        return Part(short_message, data_coding, esm_class, None, 1, 1)
    if not short_message or len(short_message) < 1 + short_message[0]:
        raise UndecodableText("user data header is longer than the message")
    header = short_message[1 : 1 + short_message[0]]
    reference, sequence, total = None, 1, 1
    offset = 0
    while offset + 2 <= len(header):
        iei, length = header[offset], header[offset + 1]
        value = header[offset + 2 : offset + 2 + length]
        if len(value) != length:
            raise UndecodableText("user data header element runs past the header")
        if iei == _IEI_CONCAT_8BIT and length == 3:
            reference, total, sequence = value[0], value[1], value[2]
        elif iei == _IEI_CONCAT_16BIT and length == 4:
            reference, total, sequence = int.from_bytes(value[:2], "big"), value[2], value[3]
        offset += 2 + length
    if not 1 <= sequence <= total:
        raise UndecodableText(f"part {sequence} of {total} is not a valid concatenation")
    return Part(short_message, data_coding, esm_class, reference, sequence, total)


def sar_part(
    content: bytes,
    data_coding: int,
    esm_class: int,
    reference: int | None,
    total: int | None,
    sequence: int | None,
) -> Part:
    """A received part whose place SMPP's sar_* TLVs give instead of a header (§5.3.2.22–24)."""
    if reference is None or total is None or sequence is None:
        raise UndecodableText("a sar_* TLV is empty")
    if not 1 <= sequence <= total:
        raise UndecodableText(f"part {sequence} of {total} is not a valid concatenation")
    return Part(content, data_coding, esm_class, reference, sequence, total)


def check_text_coding(data_coding: int) -> None:
    """UndecodableText unless `data_coding` is one of the text codings we read."""
    if data_coding != DATA_CODING_DEFAULT and data_coding not in _CODECS:
        raise UndecodableText(f"data_coding 0x{data_coding:02X} is not a text coding")


def text_from_parts(parts: Iterable[Part]) -> str:
    """The whole text of a message from all its parts, in any order."""
    ordered = sorted(parts, key=lambda part: part.sequence)
    if not ordered:
        return ""
    total = ordered[0].total
    if [part.sequence for part in ordered] != list(range(1, total + 1)) or any(
        part.total != total or part.reference != ordered[0].reference for part in ordered
    ):
        raise UndecodableText(f"parts do not make one whole message of {total}")
    if ordered[0].data_coding == DATA_CODING_UCS2:
        # A surrogate pair is only whole once the parts are joined.
        return _decode_utf16(b"".join(part.payload for part in ordered))
    return "".join(part.text() for part in ordered)


def text_with_gaps(parts: Iterable[Part], total: int, gap: str) -> str:
    """What came of a message some of whose parts never did: the runs of parts that follow
    one another, decoded as far as they can be (U+FFFD where not), `gap` for each run
    missing."""
    ordered = sorted({part.sequence: part for part in parts}.values(), key=_place)
    pieces: list[str] = []
    run: list[Part] = []
    expected = 1
    for part in ordered:
        if part.sequence != expected:
            pieces += [_lenient(run), gap]
            run = []
        run.append(part)
        expected = part.sequence + 1
    pieces.append(_lenient(run))
    if expected <= total:
        pieces.append(gap)
    return "".join(pieces)


def _place(part: Part) -> int:
    return part.sequence


def _lenient(run: list[Part]) -> str:
    if not run:
        return ""
    if run[0].data_coding == DATA_CODING_UCS2:
        return b"".join(part.payload for part in run).decode("utf-16-be", errors="replace")
    pieces = []
    for part in run:
        try:
            pieces.append(part.text())
        except UndecodableText:
            pieces.append("\ufffd")
    return "".join(pieces)


_CODECS = {DATA_CODING_IA5: "ascii", DATA_CODING_LATIN1: "latin-1", DATA_CODING_UCS2: "utf-16-be"}


def _decode_utf16(payload: bytes) -> str:
    try:
        return payload.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise UndecodableText(f"payload is not valid UTF-16: {exc.reason}") from exc
