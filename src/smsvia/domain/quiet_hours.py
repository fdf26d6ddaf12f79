"""When a marketing text may arrive, and how many a person may get in 24 hours.

Three kinds of rule apply at once, each a window of allowed local time per weekday:
the account's own quiet hours (default 21:00-08:00), the federal rule for US numbers
(TCPA: 8:00-21:00) and, when stricter, the recipient's state's (a shorter day, no Sunday, at
most 3 a day). The state rules are data (src/smsvia/data/quiet_hours.toml, each with its
source); the state comes from the number's area code (src/smsvia/data/us_area_codes.csv).

A message outside the allowed hours is not dropped: `next_allowed` finds the first moment
every rule allows, in every time zone the recipient may be in.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smsvia.domain.errors import DomainError
from smsvia.domain.phone import PhoneNumber

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_QUIET_HOURS = "21:00-08:00"
# A number that may be anywhere in the US (toll-free, 500, non-geographic) is treated as
# being in all four mainland zones at once.
US_MAINLAND = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_SEARCH_DAYS = 8  # a rule set that allows nothing for this long allows nothing at all


class QuietHoursError(DomainError):
    """A quiet-hours setting or rules file that cannot be read."""

    code = 100050


@dataclass(frozen=True, slots=True)
class Window:
    """Allowed local times, start inclusive, end exclusive; it may wrap past midnight."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One law or setting: a window per weekday (Monday first; None: no texts that day)."""

    name: str
    days: tuple[Window | None, ...]
    source: str
    cap_24h: int | None = None

    def allows(self, local: datetime) -> bool:
        window = self.days[local.weekday()]
        return window is not None and window.contains(local.time())

    def next_opening(self, local: datetime) -> datetime | None:
        """The first window start after `local` (an aware local time)."""
        for ahead in range(_SEARCH_DAYS):
            day = local.date() + timedelta(days=ahead)
            window = self.days[day.weekday()]
            if window is None:
                continue
            opening = datetime.combine(day, window.start, tzinfo=local.tzinfo)
            if opening > local:
                return opening
        return None

    def describe(self) -> str:
        return _describe(self)


@cache
def _describe(rule: Rule) -> str:
    """A rule in words; kept, as it goes on every marketing message's timeline."""
    windows = {str(w) if w else "none" for w in rule.days}
    if len(windows) == 1:
        hours = windows.pop()
    else:
        hours = ", ".join(f"{d} {w or 'none'}" for d, w in zip(DAYS, rule.days, strict=True))
    return f"{rule.name} {hours} ({rule.source})"


def parse_window(text: str, where: str) -> Window:
    """'08:00-21:00' as a Window."""
    match = _SPAN.match(text)
    if match is None:
        raise QuietHoursError(f"{where} {text!r} is not like 08:00-21:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        window = Window(time(h1, m1), time(h2, m2))
    except ValueError:
        raise QuietHoursError(f"{where} {text!r} is not a time of day") from None
    if window.start == window.end:
        raise QuietHoursError(f"{where} {text!r} is empty")
    return window


def parse_area_codes(text: str, origin: str = "area codes") -> dict[str, str]:
    """`area_code,state` lines (after a header; # starts a comment) as a mapping."""
    codes: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line or line == "area_code,state":
            continue
        area, _, state = line.partition(",")
        if not (area.isdigit() and len(area) == 3 and len(state) == 2 and state.isalpha()):
            raise QuietHoursError(f"{origin} line {number}: {line!r} is not like 305,FL")
        codes[area] = state.upper()
    return codes


def account_rule(quiet_hours: str | None, cap_24h: int | None) -> Rule:
    """The account's setting: quiet from the first time to the second, every day."""
    quiet = parse_window(quiet_hours or DEFAULT_QUIET_HOURS, "quiet hours")
    allowed = Window(quiet.end, quiet.start)
    return Rule("account quiet hours", (allowed,) * 7, f"quiet {quiet}", cap_24h)


@dataclass(frozen=True, slots=True)
class RuleBook:
    federal: Rule
    states: Mapping[str, Rule]  # by USPS code
    area_codes: Mapping[str, str]  # US area code -> USPS code

    @classmethod
    def parse(
        cls, text: str, area_codes: Mapping[str, str], origin: str = "quiet hours rules"
    ) -> RuleBook:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise QuietHoursError(f"{origin} is not valid TOML: {exc}") from exc
        if "federal" not in document:
            raise QuietHoursError(f"{origin} has no [federal] table")
        federal = _rule(document["federal"], f"{origin} [federal]")
        states = {
            code.upper(): _rule(entry, f"{origin} [states.{code}]")
            for code, entry in (document.get("states") or {}).items()
        }
        return cls(federal, states, area_codes)

    def state_of(self, phone: PhoneNumber) -> str | None:
        """The US state a number's area code belongs to; None for other countries and for
        numbers that are not geographic (toll-free, 5XX)."""
        if phone.region != "US" or not phone.e164.startswith("+1"):
            return None
        return self.area_codes.get(phone.e164[2:5])

    def rules_for(self, phone: PhoneNumber, account: Rule) -> list[Rule]:
        rules = [account]
        if phone.region == "US":
            rules.append(self.federal)
            state = self.state_of(phone)
            if state in self.states:
                rules.append(self.states[state])
        return rules


def _rule(entry: Mapping[str, Any], where: str) -> Rule:
    unknown = set(entry) - {"name", "allowed", "days", "cap_24h", "source"}
    if unknown:
        raise QuietHoursError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    if "allowed" not in entry or "source" not in entry:
        raise QuietHoursError(f"{where} needs `allowed` and `source`")
    every_day = parse_window(str(entry["allowed"]), f"{where} allowed")
    days: list[Window | None] = [every_day] * 7
    for day, span in (entry.get("days") or {}).items():
        if day not in DAYS:
            raise QuietHoursError(f"{where} days: {day!r} is not one of {', '.join(DAYS)}")
        days[DAYS.index(day)] = None if span == "none" else parse_window(span, f"{where} {day}")
    cap = entry.get("cap_24h")
    if cap is not None and (not isinstance(cap, int) or cap < 1):
        raise QuietHoursError(f"{where} cap_24h must be a positive whole number")
    return Rule(str(entry.get("name", where)), tuple(days), str(entry["source"]), cap)


def recipient_zones(phone: PhoneNumber, contact_zone: str | None = None) -> tuple[str, ...]:
    """The time zones the recipient may be in: the contact's own when known, else the
    number's; a US number that could be anywhere counts as all four mainland zones."""
    if contact_zone:
        return (contact_zone,)
    zones = tuple(zone for zone in phone.time_zones if zone != "Etc/Unknown")
    if len(zones) > 1 and phone.region == "US":
        return US_MAINLAND
    return zones


def next_allowed(moment: datetime, zones: Sequence[str], rules: Sequence[Rule]) -> datetime | None:
    """The first moment at or after `moment` that every rule allows in every zone; None if
    there is none within a week (rules that never overlap)."""
    tzs = [_zone(name) for name in zones]
    at = moment.astimezone(UTC)
    limit = at + timedelta(days=_SEARCH_DAYS)
    while at <= limit:
        opening = _first_block(at, tzs, rules)
        if opening is None:
            return at
        at = opening.astimezone(UTC)
    return None


def _first_block(at: datetime, tzs: Sequence[ZoneInfo], rules: Sequence[Rule]) -> datetime | None:
    """Where `at` is not allowed, the next opening of the first rule that forbids it."""
    for tz in tzs:
        local = at.astimezone(tz)
        for rule in rules:
            if not rule.allows(local):
                return rule.next_opening(local) or at + timedelta(days=_SEARCH_DAYS + 1)
    return None


def strictest_cap(rules: Sequence[Rule]) -> Rule | None:
    """The rule with the lowest 24-hour cap, if any has one."""
    capped = [rule for rule in rules if rule.cap_24h is not None]
    return min(capped, key=lambda rule: rule.cap_24h or 0) if capped else None


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise QuietHoursError(f"{name!r} is not an IANA time zone") from None
