"""A server that has been running a while: finished messages already in the database.

A fresh database hides what grows with the tables (a query that scans every part of every
message ever sent is quick on an empty table). `--history N` gives the run's shop N
delivered messages first, each with what the send path leaves behind: a part, its receipt,
the timeline, two answered callbacks. Then the planner's statistics are gathered, as
autovacuum would have done on a live server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, text

from smsvia.store.models import (
    Account,
    Connector,
    Message,
    MessageEvent,
    MessagePart,
    ReceiptInbox,
    WebhookAttempt,
    WebhookDelivery,
)
from smsvia.store.rows import insert_many

CHUNK = 5_000
_EVENTS = ("queued", "sending", "sent", "delivered")
# In the order their foreign keys allow.
_TABLES = (Message, MessagePart, ReceiptInbox, MessageEvent, WebhookDelivery, WebhookAttempt)


@dataclass(frozen=True)
class Since:
    """Where the run's own rows begin: ids above these are the run's."""

    message_id: int = 0
    receipt_id: int = 0


async def add_history(store, account_sid: str, connector: str, n: int, numbers) -> Since:
    """N delivered messages of the account, sent through the connector to `numbers(i)` a
    day ago; returns the ids the run's own rows start after."""
    if n == 0:
        return Since()  # an empty database, as a run without --history always had
    day_ago = datetime.now(UTC) - timedelta(days=1)
    async with store.db.sessions() as session:
        account_id = await session.scalar(select(Account.id).where(Account.sid == account_sid))
        connector_id = await session.scalar(select(Connector.id).where(Connector.name == connector))
    for first in range(0, n, CHUNK):
        async with store.db.transaction() as session:
            last_id = (await session.scalar(select(func.max(Message.id)))) or 0
            last_delivery = (await session.scalar(select(func.max(WebhookDelivery.id)))) or 0
            rows: dict[type, list[dict]] = {table: [] for table in _TABLES}
            for position in range(min(CHUNK, n - first)):
                made = _finished(
                    store,
                    last_id + 1 + position,
                    (last_delivery + 1 + 2 * position, last_delivery + 2 + 2 * position),
                    account_id,
                    connector_id,
                    numbers(first + position),
                    day_ago + timedelta(milliseconds=first + position),
                )
                for table, table_rows in made.items():
                    rows[table] += table_rows
            for table in _TABLES:
                await insert_many(session, table.__table__, rows[table])
    async with store.db.transaction() as session:
        if session.bind.dialect.name == "postgresql":
            for table in ("messages", "webhook_deliveries"):
                await session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) "
                        f"FROM {table}"
                    )
                )
        since = Since(
            (await session.scalar(select(func.max(Message.id)))) or 0,
            (await session.scalar(select(func.max(ReceiptInbox.id)))) or 0,
        )
    async with store.db.sessions() as session:
        await session.execute(text("ANALYZE"))
        await session.commit()
    return since


def _finished(store, message_id, deliveries, account_id, connector_id, to, at) -> dict:
    """The rows one delivered message leaves behind, by table."""
    smsc_id = f"h{message_id:x}"
    index = store.cipher.blind_index(to, "phone")
    part = dict(
        message_id=message_id, sequence=0, connector_id=connector_id, status="delivered",
        smsc_message_id=smsc_id, smsc_key=smsc_id, error_code=None, submitted_at=at, done_at=at,
    )  # fmt: skip
    receipt = dict(
        connector_id=connector_id, smsc_message_id=smsc_id, state="DELIVRD", error="000",
        recipient_index=index, received_at=at, applied_at=at,
        attempts=1,
    )  # fmt: skip
    callbacks = [
        dict(
            id=delivery_id,
            account_id=account_id,
            message_id=message_id,
            url="http://127.0.0.1:9/history",
            payload=b"{}",
            status="succeeded",
            attempts=1,
            due_at=None,
            lease_owner=None,
            lease_expires_at=None,
            date_created=at,
        )
        for delivery_id in deliveries
    ]
    return {
        Message: [_message(store, message_id, account_id, connector_id, to, index, at)],
        MessagePart: [part],
        ReceiptInbox: [receipt],
        MessageEvent: [dict(message_id=message_id, at=at, event=e, detail="") for e in _EVENTS],
        WebhookDelivery: callbacks,
        WebhookAttempt: [
            dict(delivery_id=d, at=at, response_status=200, error=None, duration_ms=3)
            for d in deliveries
        ],
    }


def _message(store, message_id, account_id, connector_id, to, index, at) -> dict:
    return dict(
        id=message_id,
        sid=f"SM{message_id:032x}",
        account_id=account_id,
        direction="outbound-api",
        sender="+15005550006",
        recipient=store.cipher.seal(to, "message.to"),
        recipient_index=index,
        body=store.cipher.seal(f"Order {message_id} shipped", "message.body"),
        media_urls=[],
        status="delivered",
        channel="sms",
        encoding="GSM-7",
        num_segments=1,
        num_media=0,
        smart_encoded=False,
        price=Decimal("-0.0075"),
        price_unit="USD",
        error_code=None,
        error_message=None,
        status_callback="http://127.0.0.1:9/history",
        validity_period=None,
        send_at=None,
        expires_at=None,
        connector_id=connector_id,
        category=None,
        rcs_connector_id=None,
        rich_content=None,
        rcs_state=None,
        fallback_after=None,
        fallback_reason=None,
        fallback_price=None,
        preview_token=None,
        date_created=at,
        date_updated=at,
        date_sent=at,
        due_at=None,
        lease_owner=None,
        lease_expires_at=None,
        attempts=1,
        campaign_sid=None,
        contact_id=None,
        campaign_variant=None,
        mms_connector_id=None,
    )
