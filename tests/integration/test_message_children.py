"""A message's timeline, parts and status callbacks name it without a foreign key (migration
0017): deleting the message still takes all of them, and the migration keeps every row."""

from __future__ import annotations

import logging

from alembic import command
from sqlalchemy import func, inspect, select

from smsvia.services.clock import utcnow
from smsvia.services.message_views import delete_message
from smsvia.services.messages import SendRequest, send_message
from smsvia.services.quote import load_price_book
from smsvia.sim.smsc import SmscBehaviour
from smsvia.store import messages as queries
from smsvia.store import outbox, schema
from smsvia.store.models import (
    Message,
    MessageEvent,
    MessagePart,
    WebhookAttempt,
    WebhookDelivery,
)
from tests.integration.scenario import Scenario
from tests.integration.test_optin_form import eventually

LOOSENED = {
    ("message_events", "fk_message_events_message_id_messages"),
    ("message_parts", "fk_message_parts_message_id_messages"),
    ("webhook_deliveries", "fk_webhook_deliveries_message_id_messages"),
    ("webhook_attempts", "fk_webhook_attempts_delivery_id_webhook_deliveries"),
}
LOOSENED_TABLES = sorted(table for table, _key in LOOSENED)
BOOK = load_price_book()


async def children(backend, message_id: int) -> dict[str, int]:
    """How many rows of each kind are written about the message."""
    async with backend.store.db.sessions() as session:
        callbacks = select(WebhookDelivery.id).where(WebhookDelivery.message_id == message_id)
        counted = {
            "timeline": select(MessageEvent).where(MessageEvent.message_id == message_id),
            "parts": select(MessagePart).where(MessagePart.message_id == message_id),
            "callbacks": select(WebhookDelivery).where(WebhookDelivery.message_id == message_id),
            "attempts": select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(callbacks)),
        }
        return {
            kind: await session.scalar(select(func.count()).select_from(query.subquery()))
            for kind, query in counted.items()
        }


def test_deleting_a_delivered_message_takes_its_timeline_parts_and_callbacks(
    backend, callback_receiver
):
    async def run():
        async with Scenario(backend) as sc:
            hook = f"{callback_receiver.url}/status"
            gone = await sc.send("+14155550100", status_callback=hook)
            kept = await sc.send("+14155550101", status_callback=hook)
            for message in (gone, kept):
                await sc.wait_for(message.sid, "delivered")
            gone_id, kept_id = await message_ids(backend, gone.sid, kept.sid)

            async def recorded() -> bool:
                """Both callbacks (sent, delivered) of both messages made and recorded."""
                counted = [await children(backend, each) for each in (gone_id, kept_id)]
                return all(each["attempts"] >= 2 for each in counted)

            await eventually(recorded)
            before = await children(backend, kept_id)
            await delete_message(backend.store, sc.shop.principal, gone.sid)
            return await children(backend, gone_id), before, await children(backend, kept_id)

    gone, kept_before, kept_after = backend.run(run())
    assert gone == {"timeline": 0, "parts": 0, "callbacks": 0, "attempts": 0}
    assert kept_after == kept_before
    assert all(kept_after.values())


async def message_ids(backend, *sids: str) -> list[int]:
    async with backend.store.db.sessions() as session:
        return [await session.scalar(select(Message.id).where(Message.sid == sid)) for sid in sids]


def test_the_migration_drops_the_keys_and_keeps_every_row(backend):
    async def run():
        store = backend.store
        await migrate(store, command.downgrade, "0016")
        await write_a_message_with_children(backend)
        assert await foreign_keys(store) >= LOOSENED
        counted = await every_count(store)

        await migrate(store, command.upgrade, "0017")
        assert not await foreign_keys(store) & LOOSENED
        assert await every_count(store) == counted  # SQLite rebuilt the tables

        await migrate(store, command.downgrade, "0016")
        assert await foreign_keys(store) >= LOOSENED
        assert await every_count(store) == counted

    backend.run(run())


async def migrate(store, step, revision: str) -> None:
    def run(connection):
        config = schema.alembic_config()
        config.attributes["connection"] = connection
        step(config, revision)

    async with store.db.engine.begin() as connection:
        await connection.run_sync(run)


async def write_a_message_with_children(backend) -> None:
    """A sent message as revision 0016 holds it: timeline, a part, a callback and its attempt."""
    shop = await backend.create_tenant()
    request = SendRequest(to="+14155550100", sender=shop.sender, body="Shipped")
    view = await send_message(backend.store, shop.principal, request, price_book=BOOK)
    now = utcnow()
    async with backend.store.db.transaction() as session:
        message = await session.scalar(select(Message).where(Message.sid == view.sid))
        session.add(
            MessagePart(
                message_id=message.id,
                sequence=1,
                connector_id=message.connector_id,
                status="submitted",
                smsc_message_id="10",
                smsc_key="10",
                submitted_at=now,
            )
        )
        callback = WebhookDelivery(
            account_id=shop.account_id,
            message_id=message.id,
            url="https://shop.example/status",
            payload=b"sealed",
            status="succeeded",
            attempts=1,
            date_created=now,
        )
        session.add(callback)
        await session.flush()
        session.add(
            WebhookAttempt(delivery_id=callback.id, at=now, response_status=200, duration_ms=4)
        )


async def foreign_keys(store) -> set[tuple[str, str]]:
    async with store.db.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: {
                (table, key["name"])
                for table in LOOSENED_TABLES
                for key in inspect(sync).get_foreign_keys(table)
            }
        )


async def every_count(store) -> dict[str, int]:
    async with store.db.sessions() as session:
        return {
            table.__tablename__: await session.scalar(select(func.count()).select_from(table))
            for table in (Message, MessageEvent, MessagePart, WebhookDelivery, WebhookAttempt)
        }


def test_a_message_deleted_while_its_receipt_is_matched_holds_up_no_other(
    backend, monkeypatch, caplog
):
    async def run():
        async with Scenario(backend, SmscBehaviour(dlr_delay=0.5)) as sc:
            gone = await sc.send("+14155550100")
            kept = await sc.send("+14155550101")
            for message in (gone, kept):
                await sc.wait_for(message.sid, "sent")
            (gone_id,) = await message_ids(backend, gone.sid)
            locking = outbox.messages_for_update

            async def deleted_before_locked(session, ids):
                """As a DELETE that commits after the receipt found the part and before it
                locks the message leaves it."""
                if gone_id in ids:
                    await queries.delete_message(session, gone_id)
                return await locking(session, ids)

            monkeypatch.setattr(outbox, "messages_for_update", deleted_before_locked)
            kept_view = await sc.wait_for(kept.sid, "delivered", timeout=5)
            return kept_view.status, await children(backend, gone_id)

    with caplog.at_level(logging.ERROR):
        status, gone = backend.run(run())
    assert status == "delivered"
    assert gone == {"timeline": 0, "parts": 0, "callbacks": 0, "attempts": 0}
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
