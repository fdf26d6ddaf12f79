"""An account's data, all of it, for the shop to take away (`smsvia export`): contacts,
the consent ledger, messages, segments, campaigns, short links, clicks and orders, one file
each, as CSV or JSON, with sealed fields opened. Read a page at a time, so an account of
millions of messages exports in flat memory.
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Select, select

from smsvia.services.accounts import Principal
from smsvia.store.context import Store
from smsvia.store.marketing_models import Campaign, ConsentEvent, Contact, Segment
from smsvia.store.models import Message
from smsvia.store.tracking_models import Click, Order, ShortLink

PAGE = 1000
FORMATS = ("csv", "json")
CONTACT_COLUMNS = (
    *("time_zone", "locale", "country", "state", "consent", "marketing_allowed"),
    *("last_clicked_at", "last_delivered_at", "last_order_at", "orders_count", "total_spent"),
    *("date_created", "date_updated"),
)
MESSAGE_COLUMNS = (
    *("status", "channel", "fallback_reason", "encoding", "num_segments", "num_media"),
    *("price", "price_unit", "error_code", "error_message", "campaign_sid", "campaign_variant"),
    *("date_created", "date_sent", "date_updated"),
)
CAMPAIGN_COLUMNS = (
    *("sid", "name", "status", "sender", "segment_sid", "channel", "category", "variants"),
    *("ab_test", "winner", "budget", "recipients", "excluded", "launched_at", "completed_at"),
    "date_created",
)


@dataclass(frozen=True)
class Table:
    name: str
    query: Callable[[int], Select[Any]]  # account id -> its rows, with the paging id first
    row: Callable[[Store, Any], dict[str, Any]]


def _opened(store: Store, value: bytes | None, purpose: str) -> str | None:
    return store.cipher.open(value, purpose) if value is not None else None


def _contact(store: Store, r: Any) -> dict[str, Any]:
    c: Contact = r.Contact
    attributes = _opened(store, c.attributes, "contact.attributes")
    return {
        "sid": c.sid,
        "phone": store.cipher.open(c.phone, "contact.phone"),
        "email": _opened(store, c.email, "contact.email"),
        "first_name": _opened(store, c.first_name, "contact.first_name"),
        "last_name": _opened(store, c.last_name, "contact.last_name"),
        "tags": c.tags or [],
        "attributes": json.loads(attributes) if attributes else {},
        **{name: getattr(c, name) for name in CONTACT_COLUMNS},
    }


def _consent(store: Store, r: Any) -> dict[str, Any]:
    e: ConsentEvent = r.ConsentEvent
    return {
        "phone": store.cipher.open(e.phone, "consent.phone"),
        "kind": e.kind,
        "source": e.source,
        "evidence": json.loads(store.cipher.open(e.evidence, "consent.evidence")),
        "disclosure": e.disclosure,
        "at": e.at,
        "previous_hash": e.previous_hash,
        "hash": e.hash,
    }


def _message(store: Store, r: Any) -> dict[str, Any]:
    m: Message = r.Message
    return {
        "sid": m.sid,
        "direction": m.direction,
        "from": m.sender,
        "to": store.cipher.open(m.recipient, "message.to"),
        "body": store.cipher.open(m.body, "message.body"),
        **{name: getattr(m, name) for name in MESSAGE_COLUMNS},
    }


def _columns(*names: str, model: str) -> Callable[[Store, Any], dict[str, Any]]:
    return lambda _, r: {name: getattr(getattr(r, model), name) for name in names}


def _link(store: Store, r: Any) -> dict[str, Any]:
    return {
        "code": r.ShortLink.code,
        "message_sid": r.sid,
        "position": r.ShortLink.position,
        "url": store.cipher.open(r.ShortLink.url, "link.url"),
    }


def _click(store: Store, r: Any) -> dict[str, Any]:
    c: Click = r.Click
    return {
        "at": c.at,
        "kind": c.kind,
        "code": r.code,
        "message_sid": r.sid,
        "campaign_sid": c.campaign_sid,
        "user_agent": c.user_agent,
    }


def _order(store: Store, r: Any) -> dict[str, Any]:
    o: Order = r.Order
    return {
        "sid": o.sid,
        "order_id": o.order_id,
        "source": o.source,
        "phone": _opened(store, o.phone, "order.phone"),
        "email": _opened(store, o.email, "order.email"),
        "total": o.total,
        "currency": o.currency,
        "created_at": o.created_at,
        "attributed_message_sid": r.sid,
        "attributed_by": o.attributed_by,
        "campaign_sid": o.campaign_sid,
        "date_created": o.date_created,
    }


TABLES = (
    Table(
        "contacts", lambda a: select(Contact.id, Contact).where(Contact.account_id == a), _contact
    ),
    Table(
        "consent_ledger",
        lambda a: select(ConsentEvent.id, ConsentEvent).where(ConsentEvent.account_id == a),
        _consent,
    ),
    Table(
        "messages", lambda a: select(Message.id, Message).where(Message.account_id == a), _message
    ),
    Table(
        "segments",
        lambda a: select(Segment.id, Segment).where(Segment.account_id == a),
        _columns("sid", "name", "match", "conditions", "date_created", model="Segment"),
    ),
    Table(
        "campaigns",
        lambda a: select(Campaign.id, Campaign).where(Campaign.account_id == a),
        _columns(*CAMPAIGN_COLUMNS, model="Campaign"),
    ),
    Table(
        "short_links",
        lambda a: (
            select(ShortLink.id, ShortLink, Message.sid)
            .join(Message, Message.id == ShortLink.message_id)
            .where(ShortLink.account_id == a)
        ),
        _link,
    ),
    Table(
        "clicks",
        lambda a: (
            select(Click.id, Click, ShortLink.code, Message.sid)
            .join(ShortLink, ShortLink.id == Click.link_id)
            .join(Message, Message.id == Click.message_id)
            .where(Click.account_id == a)
        ),
        _click,
    ),
    Table(
        "orders",
        lambda a: (
            select(Order.id, Order, Message.sid)
            .outerjoin(Message, Message.id == Order.message_id)
            .where(Order.account_id == a)
        ),
        _order,
    ),
)


async def rows_of(
    store: Store, principal: Principal, table: Table
) -> AsyncIterator[dict[str, Any]]:
    """The table's rows of the account, opened, a page at a time in id order."""
    query = table.query(principal.account_id)
    paging = query.selected_columns[0]
    after = 0
    while True:
        async with store.db.sessions() as session:
            page = (
                await session.execute(query.where(paging > after).order_by(paging).limit(PAGE))
            ).all()
        for found in page:
            yield table.row(store, found)
        if len(page) < PAGE:
            return
        after = page[-1][0]


async def export_account(
    store: Store, principal: Principal, directory: Path, fmt: str = "csv"
) -> dict[str, int]:
    """Write one file per table into `directory`; returns rows written per table."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for table in TABLES:
        path = directory / f"{table.name}.{fmt}"
        with path.open("w", encoding="utf-8", newline="") as out:
            write = _CsvWriter(out) if fmt == "csv" else _JsonWriter(out)
            count = 0
            async for row in rows_of(store, principal, table):
                write(row)
                count += 1
            write.close()
        written[table.name] = count
    return written


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    return value


class _CsvWriter:
    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._writer: csv.DictWriter[str] | None = None

    def __call__(self, row: dict[str, Any]) -> None:
        if self._writer is None:
            self._writer = csv.DictWriter(self._out, fieldnames=list(row))
            self._writer.writeheader()
        self._writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else _plain(v)
                for k, v in row.items()
            }
        )

    def close(self) -> None:
        pass


class _JsonWriter:
    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._first = True
        out.write("[")

    def __call__(self, row: dict[str, Any]) -> None:
        self._out.write("\n" if self._first else ",\n")
        self._out.write(json.dumps(row, default=_plain, ensure_ascii=False))
        self._first = False

    def close(self) -> None:
        self._out.write("\n]\n")
