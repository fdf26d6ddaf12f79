"""The audit log: every change made through the API, the dashboard or the command line.

An entry names who (an Account SID, an API key's SID, "dashboard:AC…", "cli:<user>"), what
("keys.create", "campaigns.launch", …), the object (a SID or a name), when and from which
address. Values given are never kept, only the names of what was given: a value may be a
secret (a password, a webhook secret). Sending messages and recording orders are not in the
log: each message and order is its own record, with its own timeline.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime

from smsvia.domain.errors import NotFound
from smsvia.services.accounts import Principal
from smsvia.services.clock import Clock, utcnow
from smsvia.services.paging import window
from smsvia.store import accounts as account_queries
from smsvia.store import audit as queries
from smsvia.store.audit_models import AuditEvent
from smsvia.store.context import Store

MAX_PAGE_SIZE = 1_000
COLUMNS = ("at", "account", "actor", "action", "object", "address", "detail")


@dataclass(frozen=True, slots=True)
class Change:
    """One change, as it is recorded."""

    actor: str
    action: str
    object: str | None = None
    address: str | None = None
    given: tuple[str, ...] = ()  # names of the fields or options given, never their values


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[AuditEvent]
    next_token: str | None


async def record(
    store: Store, account_id: int | None, change: Change, *, clock: Clock = utcnow
) -> None:
    async with store.db.transaction() as session:
        session.add(_row(account_id, change, clock()))


async def record_for(
    store: Store, account_sid: str | None, change: Change, *, clock: Clock = utcnow
) -> None:
    """As `record`, the account named by its SID (unknown or None: the server's own)."""
    async with store.db.transaction() as session:
        account = (
            await account_queries.account_by_sid(session, account_sid) if account_sid else None
        )
        session.add(_row(account.id if account else None, change, clock()))


def _row(account_id: int | None, change: Change, at: datetime) -> AuditEvent:
    return AuditEvent(
        account_id=account_id,
        at=at,
        actor=change.actor[:128],
        action=change.action[:64],
        object=change.object[:128] if change.object else None,
        address=change.address[:64] if change.address else None,
        detail={"given": sorted(set(change.given))} if change.given else None,
    )


async def events(
    store: Store, principal: Principal, *, page_size: int = 50, page_token: str | None = None
) -> EventPage:
    """The account's events, newest first."""
    asked = window(page_size, page_token, MAX_PAGE_SIZE)
    async with store.db.sessions() as session:
        found = await queries.page_of_events(
            session, principal.account_id, before_id=asked.before_id, limit=asked.limit
        )
    shown, next_token = asked.page(found)
    return EventPage(list(shown), next_token)


def resource(event: AuditEvent) -> dict[str, object]:
    return {
        "at": event.at.isoformat().replace("+00:00", "Z"),
        "actor": event.actor,
        "action": event.action,
        "object": event.object,
        "address": event.address,
        "detail": event.detail,
    }


async def export(store: Store, account_sid: str | None, fmt: str) -> AsyncIterator[str]:
    """Every event, oldest first, as CSV lines or JSON lines; one account's or all."""
    account_id, sids = None, {}
    async with store.db.sessions() as session:
        if account_sid is not None:
            account = await account_queries.account_by_sid(session, account_sid)
            if account is None:
                raise NotFound(f"Account {account_sid} not found")
            account_id, sids = account.id, {account.id: account.sid}
    if fmt == "csv":
        yield _csv_line(COLUMNS)
    async for event in queries.every_event(store.db, account_id):
        if event.account_id is not None and event.account_id not in sids:
            async with store.db.sessions() as session:
                found = await account_queries.account_by_id(session, event.account_id)
            sids[event.account_id] = found.sid if found else str(event.account_id)
        row = {"account": sids.get(event.account_id) if event.account_id else None}
        row.update(resource(event))
        if fmt == "csv":
            detail = row["detail"]
            row["detail"] = json.dumps(detail) if detail else ""
            yield _csv_line(row[c] or "" for c in COLUMNS)
        else:
            yield json.dumps({c: row[c] for c in COLUMNS}) + "\n"


def _csv_line(values: Iterable[object]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue()
