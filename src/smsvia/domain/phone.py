"""Phone numbers parsed to E.164 (phonenumbers), with their country, type and time zones."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property, lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType, timezone

from smsvia.domain.errors import InvalidPhoneNumber


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
    return _parse(raw, default_region, strict)


# A message's number is read several times on its way (checked, routed, its local time
# found), each a full phonenumbers parse; the recent ones are kept. PhoneNumber is frozen.
@lru_cache(maxsize=4096)
def _parse(raw: str, default_region: str, strict: bool) -> PhoneNumber:
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("The phone number is empty", field="To")
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(
            f"'{raw}' is not a phone number: {_REASONS.get(exc.error_type, str(exc))}", field="To"
        ) from exc
    region = phonenumbers.region_code_for_number(number)
    # is_valid_number(number), without looking the region up a second time
    usable = (
        phonenumbers.is_valid_number_for_region(number, region)
        if strict
        else phonenumbers.is_possible_number(number)
    )
    if not usable:
        raise InvalidPhoneNumber(
            f"'{raw}' is not a valid phone number in any country (with default region "
            f"{default_region.upper()})",
            field="To",
        )
    return PhoneNumber(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        country_code=number.country_code,
        region=region or phonenumbers.region_code_for_country_code(number.country_code),
        parsed=number,
    )


_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country calling code "
    "(write it as +<country code><number>)",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "it does not look like a number",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the exit code",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}
