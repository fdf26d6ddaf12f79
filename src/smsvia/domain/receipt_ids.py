"""Which submit a delivery receipt answers, by the SMSC's message id.

SMSCs disagree on how they write their ids. Most repeat the `submit_sm_resp` id in the
receipt; some answer the submit in hex and write the receipt in decimal (or the other way
round), pad with zeros or change case. Read "16" as hex and it is 22; read it as decimal and
it is 0x10: guessing crosses messages, so a connector says which habit its SMSC has, as
Kannel's `msg-id-type` does, or leaves it to `auto`, which learns it from receipts that can
only mean one thing and leaves a receipt that could mean two waiting.
"""

from __future__ import annotations

import hashlib
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

_HEX_DIGITS = frozenset(string.hexdigits)


class ReceiptIds(StrEnum):
    """A connector's setting (`--receipt-ids`)."""

    EXACT = "exact"  # the receipt repeats the id, character for character
    HEX_TO_DECIMAL = "hex-to-decimal"  # submit_sm_resp in hex, the receipt in decimal
    DECIMAL_TO_HEX = "decimal-to-hex"  # submit_sm_resp in decimal, the receipt in hex
    AUTO = "auto"  # learn it


class Reading(StrEnum):
    """How one receipt id relates to one submit id."""

    SAME = "same"  # the same characters, or the same number written with zeros or in capitals
    HEX_TO_DECIMAL = "hex-to-decimal"
    DECIMAL_TO_HEX = "decimal-to-hex"


# SMPP 3.4 allows a message_id 64 characters long (65 octets with its NUL); so do our columns.
MAX_ID = 64
_DIGEST = 24  # hex digits of SHA-256 that stand for the rest of a longer id


def fitted(message_id: str) -> str:
    """An SMSC's (or MMSC's) id as we read it: itself, when it fits in MAX_ID characters;
    a longer one as its beginning, "~" and a digest of the whole. The same id comes out the
    same wherever it is read (the submit's answer, the receipt), ids that begin alike stay
    apart, and both databases keep the same characters."""
    if len(message_id) <= MAX_ID:
        return message_id
    digest = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{message_id[: MAX_ID - _DIGEST - 1]}~{digest[:_DIGEST]}"


def smsc_key(message_id: str) -> str:
    """The form a submit id is looked up by: lower case, without leading zeros."""
    return message_id.lower().lstrip("0") or "0"


def lookup_keys(receipt_id: str) -> dict[Reading, str]:
    """The `smsc_key`s of the submits a receipt id could answer, by reading."""
    keys = {Reading.SAME: smsc_key(receipt_id)}
    if receipt_id.isdigit() and receipt_id.isascii():
        keys[Reading.HEX_TO_DECIMAL] = format(int(receipt_id), "x")
    if receipt_id and _is_hex(receipt_id):
        keys[Reading.DECIMAL_TO_HEX] = str(int(receipt_id, 16))
    return keys


def readings(receipt_id: str, submit_id: str) -> set[Reading]:
    """Every reading under which `receipt_id` names the submit answered with `submit_id`."""
    found = set()
    key = smsc_key(submit_id)
    for reading, wanted in lookup_keys(receipt_id).items():
        if wanted != key:
            continue
        if reading == Reading.HEX_TO_DECIMAL and not _is_hex(submit_id):
            continue
        if reading == Reading.DECIMAL_TO_HEX and not submit_id.isdigit():
            continue
        found.add(reading)
    return found


@dataclass(frozen=True, slots=True)
class Candidate:
    """A recorded submit a receipt might answer."""

    part_id: int
    smsc_message_id: str
    waiting: bool  # still without its receipt (a finished one may be an id come round again)
    same_handset: bool | None  # the receipt's handset is the message's (None: receipt names none)


@dataclass(frozen=True, slots=True)
class Choice:
    part_id: int | None  # None: no part, or not yet
    reading: Reading | None = None
    why: str = ""


NO_MATCH = Choice(None, why="no submit has this id")


@dataclass
class IdHabit:
    """One connector's receipt ids: configured, or (auto) learned from unambiguous matches.

    Auto takes a receipt id as the same characters first; it reads it across bases only when
    nothing to that handset has the id itself, and never while an exact reading and a
    cross-base one both fit: such a receipt waits until the habit is known.
    """

    setting: ReceiptIds = ReceiptIds.AUTO
    learn_after: int = 5  # unambiguous matches of one reading, none of another
    evidence: Counter[Reading] = field(default_factory=Counter)

    @property
    def reading(self) -> Reading | None:
        """The reading every receipt is taken under; None while auto is still learning."""
        if self.setting == ReceiptIds.HEX_TO_DECIMAL:
            return Reading.HEX_TO_DECIMAL
        if self.setting == ReceiptIds.DECIMAL_TO_HEX:
            return Reading.DECIMAL_TO_HEX
        if self.setting == ReceiptIds.EXACT:
            return Reading.SAME
        if len(self.evidence) == 1:
            ((reading, count),) = self.evidence.items()
            if count >= self.learn_after:
                return reading
        return None

    def choose(self, receipt_id: str, candidates: list[Candidate], *, settled: bool) -> Choice:
        """The part a receipt settles, or None for now.

        `settled`: the receipt is old enough that every submit answered before it was sent
        has been recorded. Until then a fit that is not certain (another handset's part, a
        cross-base reading) may only be standing in for a submit not recorded yet.
        """
        if self.setting == ReceiptIds.EXACT:
            exact = [c for c in candidates if c.smsc_message_id == receipt_id]
            return _best(exact, Reading.SAME)
        by_reading = _by_reading(receipt_id, candidates)
        known = self.reading
        if known is not None:
            return _best(by_reading.get(known, []), known)
        return self._learning(receipt_id, by_reading, settled)

    def _learning(
        self, receipt_id: str, by_reading: dict[Reading, list[Candidate]], settled: bool
    ) -> Choice:
        """Auto before the habit is known: only what one reading and the handset allow."""
        if not settled:
            # Another handset's part is no answer yet: this one's may still be recorded.
            by_reading = _keep(by_reading, lambda c: c.same_handset is not False)
        elif any(c.same_handset for group in by_reading.values() for c in group):
            by_reading = _keep(by_reading, lambda c: c.same_handset is not False)
        if not by_reading:
            return Choice(None, why="no submit to this handset has this id yet")
        exact = [c for c in by_reading.get(Reading.SAME, []) if c.smsc_message_id == receipt_id]
        if len(by_reading) > 1:
            if exact:  # an exact id always wins over a variant, but proves no habit
                return _best(exact, Reading.SAME)
            return Choice(None, why=f"could be read {' or '.join(sorted(by_reading))}: waits")
        ((reading, group),) = by_reading.items()
        if reading != Reading.SAME and not settled:
            return Choice(None, why=f"only read {reading}: waits for submits not recorded yet")
        self.evidence[reading] += 1
        return _best(exact or group, reading)


def _keep(
    by_reading: dict[Reading, list[Candidate]], wanted: Callable[[Candidate], bool]
) -> dict[Reading, list[Candidate]]:
    return {
        reading: kept
        for reading, group in by_reading.items()
        if (kept := [c for c in group if wanted(c)])
    }


def _by_reading(receipt_id: str, candidates: list[Candidate]) -> dict[Reading, list[Candidate]]:
    grouped: dict[Reading, list[Candidate]] = {}
    for candidate in candidates:
        for reading in readings(receipt_id, candidate.smsc_message_id):
            grouped.setdefault(reading, []).append(candidate)
    return grouped


def _best(group: list[Candidate], reading: Reading) -> Choice:
    """Of the parts one reading names: the one still waiting, else the newest (SMSC ids come
    round again, so an old finished part may share the id); the receipt's handset first."""
    if not group:
        return NO_MATCH
    best = max(group, key=lambda c: (c.same_handset is not False, c.waiting, c.part_id))
    return Choice(best.part_id, reading)


def _is_hex(value: str) -> bool:
    return all(char in _HEX_DIGITS for char in value)
