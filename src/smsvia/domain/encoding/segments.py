"""Which encoding a text needs and the exact segments it becomes."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from smsvia.domain.encoding import gsm7, smart
from smsvia.domain.errors import BodyTooLong, InvalidBody

MAX_BODY_CHARACTERS = 1600  # Twilio's limit for one message body
CONCATENATION_UDH_OCTETS = 6  # IEI 0x00: 8-bit reference, total, sequence


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SegmentLimits:
    """Units one segment carries: alone, or as a part of a concatenated message."""

    single: int
    multipart: int
    unit: str


# A concatenated part loses six octets to its header: 48 bits are 7 septets (6.86, rounded up
# with fill bits) or 3 UTF-16 units.
LIMITS = {
    Encoding.GSM7: SegmentLimits(single=160, multipart=153, unit="septets"),
    Encoding.UCS2: SegmentLimits(single=70, multipart=67, unit="UTF-16 code units"),
}


@dataclass(frozen=True, slots=True)
class Ucs2Character:
    """A character outside GSM-7, which makes the whole message UCS-2."""

    char: str
    position: int  # index in the text, in code points
    suggestion: str | None  # what smart encoding would send instead, if anything

    @property
    def codepoint(self) -> str:
        return f"U+{ord(self.char):04X}"

    @property
    def name(self) -> str:
        return unicodedata.name(self.char, self.codepoint)


@dataclass(frozen=True, slots=True)
class Segmentation:
    """A text as it will go out: its encoding and the text of each segment."""

    text: str  # what is sent: the input, or its smart-encoded form
    encoding: Encoding
    parts: tuple[str, ...]
    part_units: tuple[int, ...]  # septets (GSM-7) or UTF-16 code units (UCS-2) per part
    ucs2_characters: tuple[Ucs2Character, ...]
    replacements: tuple[smart.Replacement, ...] = ()

    @property
    def segments(self) -> int:
        return len(self.parts)

    @property
    def units(self) -> int:
        return sum(self.part_units)

    @property
    def limits(self) -> SegmentLimits:
        return LIMITS[self.encoding]

    @property
    def unit_capacity(self) -> int:
        """Units one segment of this message can hold."""
        return self.limits.single if self.segments == 1 else self.limits.multipart

    @property
    def units_left(self) -> int:
        """Units still free in the last segment before another one is needed."""
        return self.unit_capacity - self.part_units[-1]

    def explain(self) -> str:
        """Why the message takes the segments it does, in a sentence or two."""
        limits = self.limits
        why = (
            f"{self.encoding} because of {_describe(self.ucs2_characters)}. "
            if (self.ucs2_characters)
            else ""
        )
        if self.segments == 1:
            return (
                f"{why}{self.units} of {limits.single} {limits.unit}: one segment, "
                f"{self.units_left} {limits.unit} left."
            )
        sums = " + ".join(str(units) for units in self.part_units)
        naive = -(-self.units // limits.single)
        explanation = (
            f"{why}{self.units} {limits.unit} are {self.segments} segments ({sums}): a message "
            f"over {limits.single} {limits.unit} is sent as parts that each carry a "
            f"{CONCATENATION_UDH_OCTETS}-octet concatenation header, leaving {limits.multipart} "
            "per part"
        )
        if naive != self.segments:
            explanation += f", so it is {self.segments}, not {naive}"
        return explanation + "."


def check_body(text: str) -> None:
    """Raise unless `text` is a body an SMS can carry at all."""
    if (match := _UNSENDABLE.search(text)) is not None:
        char = match.group()
        what = "a NUL character" if char == "\0" else f"a lone surrogate U+{ord(char):04X}"
        raise InvalidBody(
            f"Body contains {what} at position {match.start()}, which no SMS can carry",
            field="Body",
        )
    if len(text) > MAX_BODY_CHARACTERS:
        raise BodyTooLong(
            f"Body is {len(text)} characters; the limit is {MAX_BODY_CHARACTERS}",
            field="Body",
        )


def segment(text: str, *, smart_encoding: bool = False) -> Segmentation:
    """Encode and split `text` exactly as it will be submitted."""
    check_body(text)
    replacements: tuple[smart.Replacement, ...] = ()
    if smart_encoding:
        text, replacements = smart.transliterate(text)
    ucs2_characters = tuple(
        Ucs2Character(char, position, smart.suggestion(char))
        for position, char in enumerate(text)
        if char not in gsm7.SEPTET_COST
    )
    if ucs2_characters:
        encoding, costs = Encoding.UCS2, [2 if ord(char) > 0xFFFF else 1 for char in text]
    else:
        encoding, costs = Encoding.GSM7, [gsm7.SEPTET_COST[char] for char in text]
    parts, part_units = _split(text, costs, LIMITS[encoding])
    return Segmentation(text, encoding, parts, part_units, ucs2_characters, replacements)


_UNSENDABLE = re.compile("[\0\ud800-\udfff]")


def _split(
    text: str, costs: list[int], limits: SegmentLimits
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Cut at code points, so an escape pair or a surrogate pair never straddles two parts."""
    total = sum(costs)
    if total <= limits.single:
        return (text,), (total,)
    parts: list[str] = []
    part_units: list[int] = []
    start = used = 0
    for index, cost in enumerate(costs):
        if used + cost > limits.multipart:
            parts.append(text[start:index])
            part_units.append(used)
            start, used = index, 0
        used += cost
    parts.append(text[start:])
    part_units.append(used)
    return tuple(parts), tuple(part_units)


def _describe(characters: tuple[Ucs2Character, ...]) -> str:
    shown = ", ".join(f"{c.char!r} ({c.codepoint}) at {c.position}" for c in characters[:3])
    more = len(characters) - 3
    return shown + (f" and {more} more" if more > 0 else "")
