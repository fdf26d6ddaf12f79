"""A contact as the shop gives it (an API body, a CSV row): checked and normalized.

Known fields: phone (required), email, first_name, last_name, tags, time_zone, locale, and
for imports the evidence of consent (consent, consent_date, consent_source). Anything else
becomes a custom attribute. The time zone, when absent, is the number's own where it has
exactly one; a number spanning several zones (most of the US) keeps none and is treated
by its state's rules later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smsvia.domain.errors import DomainError
from smsvia.domain.phone import parse_phone

KNOWN = frozenset(
    {
        "phone",
        "email",
        "first_name",
        "last_name",
        "tags",
        "time_zone",
        "locale",
        "consent",
        "consent_date",
        "consent_source",
    }
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|\d{3}))?$")
_YES = {"yes", "y", "true", "1", "opted in", "opted_in"}
_NO = {"", "no", "n", "false", "0"}
MAX_NAME = 100
MAX_TAGS = 50


class InvalidContact(DomainError):
    """A field of a contact that cannot be stored; `field` names it."""

    code = 100040


@dataclass(frozen=True, slots=True)
class ContactData:
    phone: str  # E.164
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    tags: tuple[str, ...] = ()
    time_zone: str | None = None
    locale: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    consented_at: datetime | None = None  # imported evidence of opt-in
    consent_source: str | None = None


def parse_contact(values: Mapping[str, str | None], default_region: str = "US") -> ContactData:
    """Check one contact; InvalidContact names the first field that is wrong."""
    raw_phone = (values.get("phone") or "").strip()
    if not raw_phone:
        raise InvalidContact("phone is required", field="phone")
    try:
        phone = parse_phone(raw_phone, default_region)
    except DomainError as exc:
        raise InvalidContact(exc.message, field="phone") from exc
    email = _optional(values, "email")
    if email is not None:
        email = email.lower()
        if not _EMAIL.match(email):
            raise InvalidContact(f"email {email!r} is not an email address", field="email")
    time_zone = _optional(values, "time_zone")
    if time_zone is not None:
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidContact(
                f"time_zone {time_zone!r} is not an IANA time zone (e.g. America/Chicago)",
                field="time_zone",
            ) from None
    elif len(phone.time_zones) == 1:
        time_zone = phone.time_zones[0]
    locale = _optional(values, "locale")
    if locale is not None and not _LOCALE.match(locale.replace("_", "-")):
        raise InvalidContact(f"locale {locale!r} is not like en or en-US", field="locale")
    return ContactData(
        phone=phone.e164,
        email=email,
        first_name=_name(values, "first_name"),
        last_name=_name(values, "last_name"),
        tags=_tags(values.get("tags")),
        time_zone=time_zone,
        locale=locale.replace("_", "-") if locale else None,
        attributes={
            key: value.strip()
            for key, value in values.items()
            if key not in KNOWN and key and value is not None and value.strip()
        },
        consented_at=_consent(values),
        consent_source=_optional(values, "consent_source"),
    )


def _optional(values: Mapping[str, str | None], key: str) -> str | None:
    value = values.get(key)
    return value.strip() or None if value is not None else None


def _name(values: Mapping[str, str | None], key: str) -> str | None:
    value = _optional(values, key)
    if value is not None and len(value) > MAX_NAME:
        raise InvalidContact(f"{key} is longer than {MAX_NAME} characters", field=key)
    return value


def _tags(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    tags = tuple(dict.fromkeys(t.strip().lower() for t in re.split(r"[,;|]", value) if t.strip()))
    if len(tags) > MAX_TAGS:
        raise InvalidContact(f"at most {MAX_TAGS} tags", field="tags")
    return tags


def _consent(values: Mapping[str, str | None]) -> datetime | None:
    said = (_optional(values, "consent") or "").lower()
    when = _optional(values, "consent_date")
    if said in _NO and when is None:
        return None
    if said not in _YES and said not in _NO:
        raise InvalidContact(f"consent {said!r} is not yes or no", field="consent")
    if said in _NO:
        return None
    if when is None:
        raise InvalidContact(
            "consent_date is required with consent: when did this person agree?",
            field="consent_date",
        )
    return parse_date(when, "consent_date")


def parse_date(text: str, where: str) -> datetime:
    """An ISO 8601 date or date and time; a date alone is midnight UTC."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidContact(
            f"{where} {text!r} is not a date (YYYY-MM-DD or ISO 8601)", field=where
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
