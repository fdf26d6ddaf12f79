"""Every outbound message checked against what its recipient agreed to and when it may arrive.

`screen` runs inside the transaction that writes the messages (services/intake.py), a batch
at a time:

* a number whose newest consent entry is a STOP gets nothing: 21610;
* a marketing message needs express consent (a confirmed double opt-in or imported
  evidence) that no later STOP withdrew: otherwise 100051;
* a marketing message outside the allowed hours in the recipient's local time (the
  account's quiet hours, the federal rule, the state's when stricter) is rescheduled to the
  next allowed moment, never dropped;
* a marketing message over a 24-hour cap (the state's, or the account's own) is refused:
  100052.

Transactional messages (order updates, keyword replies) pass with the STOP check alone.
Each decision on a marketing message becomes an entry on its timeline, so the message
itself shows which consent allowed it and why it went when it did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain import consent as rules_of_consent
from smsvia.domain import quiet_hours
from smsvia.domain.errors import DomainError
from smsvia.domain.phone import PhoneNumber, parse_phone
from smsvia.domain.quiet_hours import QuietHoursError, RuleBook
from smsvia.domain.status import Status
from smsvia.services.consent import unsubscribed_error
from smsvia.services.outgoing import Outgoing
from smsvia.store import accounts as account_queries
from smsvia.store import consent as consent_queries
from smsvia.store import contacts as contact_queries
from smsvia.store import messages as message_queries
from smsvia.store.consent import Standing
from smsvia.store.context import Store
from smsvia.store.crypto import Indexes
from smsvia.store.outbox import MessageRow

MARKETING = "marketing"
_DAY = timedelta(hours=24)


class NoMarketingConsent(DomainError):
    """A marketing message to a number with no express consent on the ledger."""

    code = 100051


class FrequencyCapReached(DomainError):
    """A marketing message over the 24-hour cap for its recipient."""

    code = 100052


def load_rules(path: Path | None = None) -> RuleBook:
    """The operator's quiet-hours table at `path`, or the built-in one."""
    if path is None:
        return _built_in_rules()
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuietHoursError(f"cannot read quiet hours rules {path}: {exc}") from exc
    return RuleBook.parse(text, _area_codes(), str(path))


@cache
def _built_in_rules() -> RuleBook:
    text = resources.files("smsvia.data").joinpath("quiet_hours.toml").read_text("utf-8")
    return RuleBook.parse(text, _area_codes(), "built-in quiet hours")


def state_of(phone: PhoneNumber) -> str | None:
    """The US state a number's area code belongs to (the built-in table)."""
    return _built_in_rules().state_of(phone)


@cache
def _area_codes() -> dict[str, str]:
    text = resources.files("smsvia.data").joinpath("us_area_codes.csv").read_text("utf-8")
    return quiet_hours.parse_area_codes(text, "us_area_codes.csv")


async def screen(
    session: AsyncSession,
    store: Store,
    rules: RuleBook,
    account_id: int,
    outgoing: Sequence[Outgoing],
) -> list[Outgoing | DomainError]:
    """Each message as it may go (perhaps rescheduled), or the error that keeps it back."""
    phones = store.cipher.indexes([item.to for item in outgoing], "phone")
    indexes = [phones.of(item.to) for item in outgoing]
    standing = await consent_queries.standings(
        session,
        account_id,
        phones,
        rules_of_consent.DECIDING,
        rules_of_consent.EXPRESS,
    )
    results: list[Outgoing | DomainError] = []
    marketing: list[int] = []
    for item, index in zip(outgoing, indexes, strict=True):
        held = standing.get(index)
        newest = held.kind if held else None
        if rules_of_consent.opted_out(newest):
            results.append(unsubscribed_error())
            continue
        if item.category == MARKETING:
            if not rules_of_consent.may_market(newest, held.express_given if held else False):
                results.append(_no_consent(item.to, newest))
                continue
            marketing.append(len(results))
        else:
            item = replace(item, detail=f"{item.detail}; transactional, no STOP on record")
        results.append(item)
    if marketing:
        await _time_and_count(
            session, rules, account_id, results, marketing, phones, indexes, standing
        )
    return results


def _no_consent(to: str, newest: str | None) -> NoMarketingConsent:
    why = (
        "only a START without an earlier express opt-in"
        if newest == rules_of_consent.ConsentKind.OPTED_BACK_IN
        else "none"
    )
    return NoMarketingConsent(
        f"Marketing messages need the recipient's express consent; the ledger holds {why} "
        f"for {to}. Collect it with an opt-in form or import it with its evidence, or send "
        "with category transactional if this is not marketing.",
        field="category",
    )


async def _time_and_count(
    session: AsyncSession,
    rules: RuleBook,
    account_id: int,
    results: list[Outgoing | DomainError],
    marketing: list[int],
    phones: Indexes,
    indexes: list[str],
    standing: dict[str, Standing],
) -> None:
    """Quiet hours and caps for the marketing messages in `results` (positions `marketing`),
    updated in place: three queries for the whole batch."""
    if len(marketing) < len(results):
        phones = phones.only({indexes[i] for i in marketing})
    own, zones = await _local_settings(session, account_id, phones)
    firsts = [results[i].due_at for i in marketing]  # type: ignore[union-attr]
    earlier = await message_queries.marketing_times(
        session, account_id, phones, min(firsts) - _DAY, max(firsts) + 8 * _DAY
    )
    for position in marketing:
        item = results[position]
        assert not isinstance(item, DomainError)
        index = indexes[position]
        held = standing[index]
        decided = _when(item, rules, own, zones.get(index))
        if isinstance(decided, DomainError):
            results[position] = decided
            continue
        moved, quiet, rules_applied = decided
        due = moved.get("due_at", item.due_at)
        capped = _count(item.to, due, rules_applied, earlier.setdefault(index, []))
        if isinstance(capped, DomainError):
            results[position] = capped
            continue
        # One copy of the message for every decision (a campaign makes a million of them).
        results[position] = replace(
            item,
            **moved,
            decisions=(
                (
                    "consent",
                    f"marketing consent: {held.kind} at {held.at:%Y-%m-%d %H:%M} UTC "
                    f"(ledger entry {held.entry_id})",
                ),
                *item.decisions,
                quiet,
                capped,
            ),
        )


@dataclass(frozen=True, slots=True)
class Opening:
    """When a marketing text to one number may go: `at` (None: no hour is ever allowed),
    judged in `zone` (None: the number's local time is unknown, so nothing was applied)."""

    at: datetime | None
    zone: str | None
    applied: list[quiet_hours.Rule]

    def rules(self) -> str:
        return ", ".join(rule.describe() for rule in self.applied)

    def local(self) -> datetime:
        assert self.at is not None and self.zone is not None
        return self.at.astimezone(ZoneInfo(self.zone))


def opening(
    rules: RuleBook, own: quiet_hours.Rule, to: str, contact_zone: str | None, wanted: datetime
) -> Opening:
    """The first moment at or after `wanted` that every rule allows for `to`."""
    phone = parse_phone(to, strict=False)
    applied = rules.rules_for(phone, own)
    zones = quiet_hours.recipient_zones(phone, contact_zone)
    if not zones:
        return Opening(wanted, None, applied)
    at = _next_allowed(wanted, zones, tuple(applied))
    if at is None and len(zones) > 1:
        zones = zones[:1]  # the zones never share an allowed hour: go by the first
        at = _next_allowed(wanted, zones, tuple(applied))
    return Opening(at, zones[0], applied)


# A batch's messages are mostly due at one moment and share a handful of zones and rules.
_next_allowed = lru_cache(maxsize=4096)(quiet_hours.next_allowed)


def _when(
    item: Outgoing, rules: RuleBook, own: quiet_hours.Rule, contact_zone: str | None
) -> tuple[dict[str, Any], tuple[str, str], list[quiet_hours.Rule]] | DomainError:
    """Quiet hours for one message: the fields to change (empty, or a new due time), the
    decision's note, and the rules applied."""
    found = opening(rules, own, item.to, contact_zone, item.due_at)
    if found.zone is None:
        note = f"local time of {item.to} unknown: quiet hours not applied ({found.rules()})"
        return {}, ("quiet_hours", note), found.applied
    if found.at is None:
        return QuietHoursError(f"no hour is allowed by every rule for {item.to}: {found.rules()}")
    at = found.at
    note = ("quiet_hours", _quiet_hours_note(found.zone, at, item.due_at, tuple(found.applied)))
    if at == item.due_at:
        return {}, note, found.applied
    moved = {
        "status": Status.SCHEDULED,
        "send_at": at,
        "due_at": at,
        "expires_at": at + (item.expires_at - item.due_at),
    }
    return moved, note, found.applied


@lru_cache(maxsize=4096)
def _quiet_hours_note(
    zone: str, at: datetime, due_at: datetime, applied: tuple[quiet_hours.Rule, ...]
) -> str:
    """The timeline's words for a quiet-hours decision (a batch shares a few of them)."""
    local = at.astimezone(ZoneInfo(zone))
    rules = ", ".join(rule.describe() for rule in applied)
    if at == due_at:
        return f"within allowed hours ({local:%H:%M} {zone}): {rules}"
    return (
        f"quiet hours: rescheduled from {due_at:%Y-%m-%d %H:%M} UTC to "
        f"{at:%Y-%m-%d %H:%M} UTC ({local:%a %H:%M} {zone}): {rules}"
    )


async def held_for_quiet_hours(
    session: AsyncSession,
    store: Store,
    rules: RuleBook,
    messages: Sequence[MessageRow],
    now: datetime,
) -> dict[int, tuple[datetime, str]]:
    """Marketing messages a worker is about to send that the hour now forbids (a backlog
    pushed them past the end of the allowed day): message id -> (when it may go, why).
    One account and one contacts query per account in the batch."""
    held: dict[int, tuple[datetime, str]] = {}
    by_account: dict[int, list[MessageRow]] = {}
    for message in messages:
        by_account.setdefault(message.account_id, []).append(message)
    for account_id, group in by_account.items():
        numbers = {m.id: store.cipher.open(m.recipient, "message.to") for m in group}
        phones = store.cipher.indexes(numbers.values(), "phone")
        own, zones = await _local_settings(session, account_id, phones)
        for message in group:
            to = numbers[message.id]
            found = opening(rules, own, to, zones.get(phones.of(to)), now)
            if found.zone is None or found.at == now:
                continue
            if found.at is None:
                found = Opening(now + _DAY, found.zone, found.applied)
            held[message.id] = (
                found.at,
                f"quiet hours: held until {found.at:%Y-%m-%d %H:%M} UTC "
                f"({found.local():%a %H:%M} {found.zone}): {found.rules()}",
            )
    return held


async def _local_settings(
    session: AsyncSession, account_id: int, phones: Indexes
) -> tuple[quiet_hours.Rule, dict[str, str]]:
    """The account's own quiet hours and cap, and the time zones its contacts with these
    numbers gave (by phone index)."""
    account = await account_queries.account_by_id(session, account_id)
    assert account is not None
    own = quiet_hours.account_rule(account.quiet_hours, account.marketing_cap_24h)
    return own, await contact_queries.time_zones(session, account_id, phones)


def _count(
    to: str, due_at: datetime, applied: list[quiet_hours.Rule], times: list[datetime]
) -> tuple[str, str] | DomainError:
    """The cap decision; `times` (the recipient's other marketing messages) gains this one."""
    near = sum(1 for t in times if abs(t - due_at) < _DAY)
    cap = quiet_hours.strictest_cap(applied)
    if cap is not None and cap.cap_24h is not None and near >= cap.cap_24h:
        return FrequencyCapReached(
            f"{to} already has {near} marketing message(s) within 24 hours of "
            f"{due_at:%Y-%m-%d %H:%M} UTC; {cap.name} allows {cap.cap_24h} "
            f"({cap.source})",
            field="To",
        )
    times.append(due_at)
    limit = f"{cap.cap_24h} ({cap.name})" if cap is not None else "no cap"
    return ("frequency_cap", f"{near + 1} marketing message(s) in 24 hours; limit {limit}")
