"""The worker's batch writes on SQLite and PostgreSQL: Core rows saved a batch at a time,
inserted in order with their ids, queue tables analyzed, batch transactions planned for
their arguments. The part journal's guarantees are in test_part_journal.py."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select, text

from smsvia.services.messages import SendRequest, send_message
from smsvia.services.quote import load_price_book
from smsvia.store import outbox
from smsvia.store.models import Connector, Message

BOOK = load_price_book()


async def queue(backend, shop, count: int, body: str = "Your order has shipped") -> None:
    for i in range(count):
        await send_message(
            backend.store,
            shop.principal,
            SendRequest(to=f"+1415555{i:04d}", sender=shop.sender, body=body),
            price_book=BOOK,
        )


@contextlib.contextmanager
def listening(store, name: str, listener):
    """`listener` on the store's engine's event `name` meanwhile."""
    engine = store.db.engine.sync_engine
    event.listen(engine, name, listener)
    try:
        yield
    finally:
        event.remove(engine, name, listener)


@contextlib.contextmanager
def statements(store):
    """Every statement sent to the database meanwhile, as (SQL, executemany)."""
    seen: list[tuple[str, bool]] = []

    def listen(conn, cursor, sql, params, context, executemany):
        seen.append((sql, executemany))

    with listening(store, "before_cursor_execute", listen):
        yield seen


def updates(seen, table: str) -> list[bool]:
    return [many for sql, many in seen if sql.startswith(f"UPDATE {table} ")]


async def claim(store, now: datetime) -> list[outbox.MessageRow]:
    """Claim due messages and write their lease, changing nothing else."""
    async with store.db.transaction() as session:
        messages = await outbox.claim_due_messages(
            session, owner="test", now=now, lease_until=now + timedelta(minutes=1), limit=100
        )
        await outbox.save(session, messages)
        return messages


def test_a_batch_changed_alike_is_saved_in_one_update(backend):
    async def scenario():
        shop = await backend.create_tenant()
        await queue(backend, shop, 30)
        now = datetime.now(UTC)
        messages = await claim(backend.store, now)
        assert len(messages) == 30
        for message in messages:
            message.status, message.date_updated = "sending", now
        with statements(backend.store) as seen:
            async with backend.store.db.transaction() as session:
                await outbox.save(session, messages)
                await outbox.save(session, messages)  # nothing changed since
        assert updates(seen, "messages") == [False]
        async with backend.store.db.sessions() as session:
            saved = (await session.scalars(select(Message))).all()
        assert {(m.status, m.date_updated, m.lease_owner) for m in saved} == {
            ("sending", now, "test")
        }

    backend.run(scenario())


def test_a_claim_is_written_with_what_the_worker_changed_in_one_update(backend):
    """The lease is not a statement of its own: a claimed message is written once."""

    async def scenario():
        shop = await backend.create_tenant()
        await queue(backend, shop, 30)
        now = datetime.now(UTC)
        with statements(backend.store) as seen:
            async with backend.store.db.transaction() as session:
                messages = await outbox.claim_due_messages(
                    session, owner="test", now=now, lease_until=now + timedelta(minutes=1), limit=20
                )
                for message in messages:
                    message.status, message.date_updated = "sending", now
                await outbox.save(session, messages)
        assert len(messages) == 20
        assert updates(seen, "messages") == [False]
        async with backend.store.db.sessions() as session:
            saved = (await session.scalars(select(Message))).all()
        assert (
            sorted((m.status, m.lease_owner, m.attempts) for m in saved)
            == [("queued", None, 0)] * 10 + [("sending", "test", 1)] * 20
        )
        rest = await claim(backend.store, now)  # the leased ones are nobody else's
        assert len(rest) == 10
        assert not {m.id for m in rest} & {m.id for m in messages}

    backend.run(scenario())


def test_rows_inserted_together_come_back_in_their_order_with_their_ids(backend):
    """Several multi-row statements' worth, after the newest row was deleted: each row
    returned is the one given at its place, with the id it was stored under."""

    async def scenario():
        await backend.create_tenant()  # and its connector
        async with backend.store.db.sessions() as session:
            connector_id = await session.scalar(select(Connector.id))
        now = datetime.now(UTC)

        def receipt(name: str) -> dict:
            return {
                "connector_id": connector_id,
                "smsc_message_id": name,
                "state": "DELIVRD",
                "error": "",
                "recipient_index": "",
                "received_at": now,
                "applied_at": None,
                "attempts": 0,
            }

        async with backend.store.db.transaction() as session:
            (newest,) = await outbox.store_receipts(session, [receipt("first")])
            await session.execute(text(f"DELETE FROM receipt_inbox WHERE id = {newest.id}"))
            names = [f"r{n:05d}" for n in reversed(range(2_500))]
            with statements(backend.store) as seen:
                stored = await outbox.store_receipts(session, [receipt(n) for n in names])
            in_table = dict(
                (await session.execute(text("SELECT id, smsc_message_id FROM receipt_inbox"))).all()
            )
        assert [row.smsc_message_id for row in stored] == names
        assert {row.id: row.smsc_message_id for row in stored} == in_table
        assert 1 <= len(seen) <= 3  # not a statement a row

    backend.run(scenario())


def test_rows_changed_differently_are_saved_in_one_executemany(backend):
    async def scenario():
        shop = await backend.create_tenant()
        await queue(backend, shop, 12)
        messages = await claim(backend.store, datetime.now(UTC))
        for message in messages:
            message.error_code = 30000 + message.id
        with statements(backend.store) as seen:
            async with backend.store.db.transaction() as session:
                await outbox.save(session, messages)
        assert updates(seen, "messages") == [True]
        async with backend.store.db.sessions() as session:
            saved = (await session.scalars(select(Message))).all()
        assert all(m.error_code == 30000 + m.id for m in saved)

    backend.run(scenario())


def test_queue_tables_changed_since_their_last_analyze_are_analyzed(backend):
    async def scenario():
        shop = await backend.create_tenant()
        await queue(backend, shop, 120)
        # A backend reports its table statistics when it ends, at the latest.
        await backend.store.db.engine.dispose()
        first = await backend.store.db.analyze_changed(["messages", "contacts"])
        again = await backend.store.db.analyze_changed(["messages", "contacts"])
        return first, again

    first, again = backend.run(scenario())
    if backend.store.db.is_sqlite:
        assert first == again == []  # SQLite plans without them
    else:
        assert (first, again) == (["messages"], [])


def test_batch_transactions_plan_for_their_arguments_on_postgresql(backend):
    async def plan_cache_modes():
        db = backend.store.db
        async with db.transaction(batch=True) as session:
            inside = await session.scalar(text("SHOW plan_cache_mode"))
        async with db.transaction() as session:
            after = await session.scalar(text("SHOW plan_cache_mode"))
        return inside, after

    if backend.store.db.is_sqlite:
        pytest.skip("SQLite keeps no generic plans")
    assert backend.run(plan_cache_modes()) == ("force_custom_plan", "auto")
