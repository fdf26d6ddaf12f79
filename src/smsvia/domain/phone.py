"""Phone numbers parsed to E.164 (phonenumbers), with their country, type and time zones."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property, lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType, timezone

from smsvia.domain.errors import InvalidPhoneNumber

# SMPP 3.4 §5.2.5: an address's type of number.
TON_INTERNATIONAL, TON_NATIONAL, TON_ALPHANUMERIC = 1, 2, 5


class NumberType(StrEnum):
    MOBILE = "mobile"
    FIXED_LINE = "fixed_line"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"
    TOLL_FREE = "toll_free"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    VOIP = "voip"
    PERSONAL_NUMBER = "personal_number"
    PAGER = "pager"
    UAN = "uan"
    VOICEMAIL = "voicemail"
    UNKNOWN = "unknown"


_NUMBER_TYPES = {getattr(PhoneNumberType, kind.name): kind for kind in NumberType}


@dataclass(frozen=True)
class PhoneNumber:
    e164: str
    country_code: int  # the calling code, 1 for the whole of NANP
    region: str  # ISO 3166-1 alpha-2, e.g. "US", "GB", "GG"
    parsed: phonenumbers.PhoneNumber = field(compare=False, repr=False)

    def __str__(self) -> str:
        return self.e164

    # Looked up when asked for: each walks the numbering plan again, and sending to a
    # number needs neither (a bulk send spent a third of its intake time on them).

    @cached_property
    def number_type(self) -> NumberType:
        return _NUMBER_TYPES.get(phonenumbers.number_type(self.parsed), NumberType.UNKNOWN)

    @cached_property
    def time_zones(self) -> tuple[str, ...]:
        """IANA names; several where a number does not pin one down."""
        return tuple(
            zone
            for zone in timezone.time_zones_for_number(self.parsed)
            if zone != timezone.UNKNOWN_TIMEZONE
        )


def parse_phone(raw: str, default_region: str = "US", *, strict: bool = True) -> PhoneNumber:
    """Parse a number as a person would type it; national forms use `default_region`.

    `strict` asks for a number valid in its country's numbering plan; without it a number of
    a possible length is enough (a sender on a test network, +1 555 ... numbers).
    """
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("The phone number is empty", field="To")
    reading = _read(text, default_region.upper())
    if reading.number is None:
        raise InvalidPhoneNumber(f"'{raw}' is not a phone number: {reading.problem}", field="To")
    if not (reading.valid if strict else reading.possible):
        raise InvalidPhoneNumber(
            f"'{raw}' is not a valid phone number in any country (with default region "
            f"{default_region.upper()})",
            field="To",
        )
    return reading.number


def from_smpp(address: str, ton: int, home: str | None = None) -> str:
    """A handset's number as an SMSC writes it (the digits and their type of number), in
    E.164. A national number (TON 2, or any beginning with the trunk prefix 0) is read in
    the country of `home`, our number it texted or whose message it answers, as Kannel's
    `unified-prefix` would have it; "00" is the exit code. What is no number (an
    alphanumeric sender) stays as written; a national number without a `home`, or that
    does not read in its country, is taken as international, as every other number is."""
    digits = address.removeprefix("+")
    if not digits.isdigit():
        return address
    if address.startswith("+") or ton == TON_INTERNATIONAL:
        return f"+{digits}"
    if digits.startswith("00"):
        return f"+{digits[2:]}"
    if home is not None and _national(address, ton):
        try:
            region = parse_phone(home, strict=False).region
            return parse_phone(digits, region, strict=False).e164
        except InvalidPhoneNumber:
            pass
    return f"+{digits}"


@dataclass(frozen=True, slots=True)
class WrittenNumber:
    """A number as an SMSC writes it: its digits and their SMPP type of number."""

    address: str
    ton: int

    @property
    def national(self) -> bool:
        """Written in its own country's way: only that country can read it."""
        return _national(self.address, self.ton)

    def read(self, home: str | None = None) -> str:
        """In E.164, a national number read in the country of `home` (see `from_smpp`)."""
        return from_smpp(self.address, self.ton, home)

    def names(self, number: str) -> bool:
        """Whether this is `number` (E.164) as it is written in its own country."""
        return self.read(home=number) == number


def read_handset(handset: WrittenNumber, ours: WrittenNumber) -> str | None:
    """The handset's number in E.164, a national one read in the country of `ours`; None
    when both are written nationally: no country is known, and a guess could name another
    handset."""
    if handset.national and ours.national:
        return None
    return handset.read(home=ours.read())


def _national(address: str, ton: int) -> bool:
    return (
        address.isdigit()
        and ton != TON_INTERNATIONAL
        and not address.startswith("00")
        and (ton == TON_NATIONAL or address.startswith("0"))
    )


class _Reading:
    """One parse of a text, shared by strict and lenient reads of it; each check is made
    the first time it is asked for."""

    __slots__ = ("_possible", "_valid", "number", "problem", "region")

    def __init__(
        self, number: PhoneNumber | None, problem: str = "", region: str | None = None
    ) -> None:
        self.number = number
        self.problem = problem
        self.region = region  # as the numbering plan names it: None if none claims it
        self._valid: bool | None = None
        self._possible: bool | None = None

    @property
    def valid(self) -> bool:
        if self._valid is None:
            assert self.number is not None
            # is_valid_number(number), without looking the region up a second time
            self._valid = phonenumbers.is_valid_number_for_region(self.number.parsed, self.region)
        return self._valid

    @property
    def possible(self) -> bool:
        if self._possible is None:
            assert self.number is not None
            self._possible = phonenumbers.is_possible_number(self.number.parsed)
        return self._possible


# A message's number is read several times on its way (checked, routed, its local time
# found, strictly and not), each a full phonenumbers parse; the recent ones are kept, with
# what was learnt about them. PhoneNumber is frozen, so one object serves every read.
@lru_cache(maxsize=8192)
def _read(text: str, default_region: str) -> _Reading:
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        return _Reading(None, _REASONS.get(exc.error_type, str(exc)))
    region = phonenumbers.region_code_for_number(number)
    return _Reading(
        PhoneNumber(
            e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
            country_code=number.country_code,
            region=region or phonenumbers.region_code_for_country_code(number.country_code),
            parsed=number,
        ),
        region=region,
    )


_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country calling code "
    "(write it as +<country code><number>)",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "it does not look like a number",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the exit code",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}
