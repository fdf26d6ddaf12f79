"""The consent ledger: record what a person agreed to (or refused) and prove it later.

Entries are appended, never changed; each carries the hash of the one before it in the
account's chain (domain/consent.py), so `verify` finds any edit or deletion. A number whose
newest deciding entry is an opt-out cannot be texted (21610), except for the confirmation of
that opt-out.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain.consent import DECIDING, EXPRESS, GENESIS, ConsentKind, entry_hash, may_market
from smsvia.domain.errors import DomainError
from smsvia.store import consent as queries
from smsvia.store import contacts as contact_queries
from smsvia.store.context import Store
from smsvia.store.crypto import Indexes
from smsvia.store.marketing_models import ConsentEvent

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
    phones = store.cipher.indexes([new.phone for new in entries], "phone")
    await sync_contacts(session, account_id, phones)
    return rows


async def sync_contacts(session: AsyncSession, account_id: int, phones: Indexes) -> None:
    """Copy where these numbers stand on the ledger onto their contacts (`consent`,
    `marketing_allowed`), which segments count on. Inside the caller's transaction, so the
    copy never disagrees with the ledger."""
    if not phones.primary:
        return
    shown = await queries.standings(
        session,
        account_id,
        phones,
        DECIDING | {ConsentKind.OPT_IN_REQUESTED},
        EXPRESS,
    )
    deciding = await queries.standings(session, account_id, phones, DECIDING, EXPRESS)
    by_standing: dict[tuple[str, bool], list[str]] = {}
    for index in set(phones.primary.values()):
        held, decided = shown.get(index), deciding.get(index)
        status = consent_status(held.kind if held else None)
        marketing = decided is not None and may_market(decided.kind, decided.express_given)
        by_standing.setdefault((status, marketing), []).append(index)
    for (status, marketing), indexes in by_standing.items():
        await contact_queries.set_consent(
            session, account_id, phones.every(indexes), status, marketing
        )


def consent_status(newest: str | None) -> str:
    """none | requested | opted_in | opted_out, from the newest entry that decides or asks."""
    if newest is None:
        return "none"
    return {
        ConsentKind.OPTED_OUT: "opted_out",
        ConsentKind.OPT_IN_REQUESTED: "requested",
    }.get(ConsentKind(newest), "opted_in")


def unsubscribed_error() -> RecipientUnsubscribed:
    return RecipientUnsubscribed(
        "Attempt to send to unsubscribed recipient: it replied STOP", field="To"
    )


EXPORT_COLUMNS = (
    "entry",
    "at",
    "phone",
    "kind",
    "source",
    "disclosure",
    "evidence",
    "previous_hash",
    "hash",
)


@dataclass(frozen=True, slots=True)
class LedgerExport:
    """An account's ledger (or one number's part of it), opened, for an inquiry."""

    account_sid: str
    phone: str | None
    chain_intact: bool  # the account's whole chain verified when exported
    entries: list[dict[str, Any]]

    def as_json(self, exported_at: datetime) -> dict[str, Any]:
        return {
            "account_sid": self.account_sid,
            "phone": self.phone,
            "exported_at": exported_at.isoformat(),
            "chain_intact": self.chain_intact,
            "hash_rule": "sha256(previous_hash + '\\n' + canonical JSON of the entry's fields)",
            "entries": self.entries,
        }

    def as_csv(self) -> str:
        """A header row, then one row an entry; the evidence column holds its JSON."""
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(EXPORT_COLUMNS)
        writer.writerows(
            [
                json.dumps(entry[column], sort_keys=True, ensure_ascii=False)
                if column == "evidence"
                else str(entry[column])
                for column in EXPORT_COLUMNS
            ]
            for entry in self.entries
        )
        return text.getvalue()


async def export(
    store: Store, account_id: int, account_sid: str, phone: str | None
) -> LedgerExport:
    """Every entry of the account's ledger, oldest first, or only those of `phone`."""
    indexes = store.cipher.lookup_indexes(phone, "phone") if phone else None
    async with store.db.sessions() as session:
        entries = await queries.ledger(session, account_id, phone_indexes=indexes)
        chain = await queries.ledger(session, account_id) if indexes else entries
    broken = _breaks(store, chain)
    opened = []
    for entry in entries:
        opened.append(
            {
                "entry": entry.id,
                "at": entry.at.isoformat(),
                "phone": store.cipher.open(entry.phone, "consent.phone"),
                "kind": entry.kind,
                "source": entry.source,
                "disclosure": entry.disclosure,
                "evidence": json.loads(store.cipher.open(entry.evidence, "consent.evidence")),
                "previous_hash": entry.previous_hash,
                "hash": entry.hash,
            }
        )
    return LedgerExport(account_sid, phone, not broken, opened)


def _breaks(store: Store, chain: Sequence[ConsentEvent]) -> list[tuple[ConsentEvent, str]]:
    """The entries of one account's chain, oldest first, that do not hold, and why."""
    previous, broken = GENESIS, []
    for entry in chain:
        why = _check(store, entry, previous)
        if why:
            broken.append((entry, why))
        previous = entry.hash
    return broken


async def verify(store: Store) -> tuple[int, list[LedgerBreak]]:
    """Recompute every account's chain; returns (entries checked, breaks found)."""
    breaks: list[LedgerBreak] = []
    checked = 0
    async with store.db.sessions() as session:
        for account_id in await queries.accounts_with_ledger(session):
            chain = await queries.ledger(session, account_id)
            checked += len(chain)
            breaks.extend(
                LedgerBreak(account_id, entry.id, why) for entry, why in _breaks(store, chain)
            )
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
