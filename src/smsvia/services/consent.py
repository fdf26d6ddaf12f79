"""The consent ledger: record what a person agreed to (or refused) and prove it later.

Entries are appended, never changed; each carries the hash of the one before it in the
account's chain (domain/consent.py), so `verify` finds any edit or deletion. A number whose
newest deciding entry is an opt-out cannot be texted (21610), except for the confirmation of
that opt-out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain.consent import GENESIS, ConsentKind, entry_hash
from smsvia.domain.errors import DomainError
from smsvia.store import consent as queries
from smsvia.store.context import Store
from smsvia.store.models import ConsentEvent

DEFAULT_HELP = "Reply STOP to unsubscribe. Msg & data rates may apply."
DEFAULT_OPT_OUT = (
    "You are unsubscribed and will get no more messages from this number. Reply START to "
    "resubscribe."
)
DEFAULT_OPT_IN = "You are resubscribed. Reply STOP to unsubscribe, HELP for help."


class RecipientUnsubscribed(DomainError):
    """Twilio's 21610: the recipient replied STOP to this sender's account."""

    code = 21610


@dataclass(frozen=True, slots=True)
class LedgerBreak:
    account_id: int
    event_id: int
    why: str


@dataclass(frozen=True, slots=True)
class NewConsent:
    phone: str  # E.164
    kind: ConsentKind
    source: str  # keyword | api | form | import
    evidence: dict[str, Any]
    disclosure: str = ""


async def append(
    session: AsyncSession,
    store: Store,
    *,
    account_id: int,
    phone: str,
    kind: ConsentKind,
    source: str,
    evidence: dict[str, Any],
    disclosure: str = "",
    now: datetime,
) -> ConsentEvent:
    """Add an entry at the end of the account's chain (inside the caller's transaction)."""
    new = NewConsent(phone, kind, source, evidence, disclosure)
    (entry,) = await append_many(session, store, account_id, [new], now)
    return entry


async def append_many(
    session: AsyncSession,
    store: Store,
    account_id: int,
    entries: list[NewConsent],
    now: datetime,
) -> list[ConsentEvent]:
    """Add entries in order at the end of the account's chain, with one look at its end."""
    if not entries:
        return []
    await queries.lock_ledger(session, account_id)
    previous = await queries.last_hash(session, account_id) or GENESIS
    rows = []
    for new in entries:
        row = ConsentEvent(
            account_id=account_id,
            phone=store.cipher.seal(new.phone, "consent.phone"),
            phone_index=store.cipher.blind_index(new.phone, "phone"),
            kind=new.kind,
            source=new.source,
            evidence=store.cipher.seal(
                json.dumps(new.evidence, sort_keys=True), "consent.evidence"
            ),
            disclosure=new.disclosure,
            at=now,
            previous_hash=previous,
        )
        row.hash = previous = entry_hash(
            row.previous_hash, _hashed_fields(row, new.phone, new.evidence)
        )
        rows.append(row)
    session.add_all(rows)
    await session.flush()
    return rows


def unsubscribed_error() -> RecipientUnsubscribed:
    return RecipientUnsubscribed(
        "Attempt to send to unsubscribed recipient: it replied STOP", field="To"
    )


async def verify(store: Store) -> tuple[int, list[LedgerBreak]]:
    """Recompute every account's chain; returns (entries checked, breaks found)."""
    breaks: list[LedgerBreak] = []
    checked = 0
    async with store.db.sessions() as session:
        for account_id in await queries.accounts_with_ledger(session):
            previous = GENESIS
            for entry in await queries.ledger(session, account_id):
                checked += 1
                why = _check(store, entry, previous)
                if why:
                    breaks.append(LedgerBreak(account_id, entry.id, why))
                previous = entry.hash
    return checked, breaks


def _check(store: Store, entry: ConsentEvent, previous: str) -> str | None:
    if entry.previous_hash != previous:
        return "the entry before it was changed or removed"
    try:
        phone = store.cipher.open(entry.phone, "consent.phone")
        evidence = json.loads(store.cipher.open(entry.evidence, "consent.evidence"))
    except DomainError:
        return "its sealed fields were altered"
    if entry_hash(previous, _hashed_fields(entry, phone, evidence)) != entry.hash:
        return "its fields were changed after it was written"
    return None


def _hashed_fields(entry: ConsentEvent, phone: str, evidence: dict[str, Any]) -> dict[str, Any]:
    return {
        "account_id": entry.account_id,
        "phone": phone,
        "kind": str(entry.kind),
        "source": entry.source,
        "evidence": evidence,
        "disclosure": entry.disclosure,
        "at": entry.at.isoformat(),
    }
