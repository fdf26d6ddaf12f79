"""Group commit of new messages on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import DBAPIError

from smsvia.domain.consent import ConsentKind
from smsvia.domain.errors import InvalidParameter
from smsvia.domain.status import Status
from smsvia.services import consent
from smsvia.services.intake import Intake, NewMessage, write_messages
from smsvia.services.outgoing import Outgoing
from smsvia.services.routing import sender_route
from smsvia.store.models import Message, MessageEvent


def new_message(shop, connector_id: int, i: int) -> NewMessage:
    now = datetime.now(UTC)
    outgoing = Outgoing(
        to=f"+1415{7000000 + i:07d}",
        region="US",
        sender=shop.sender,
        body=f"Order {i} has shipped",
        media=(),
        smart_encoded=False,
        encoding="GSM-7",
        segments=1,
        price=Decimal("0.015"),
        currency="USD",
        status=Status.QUEUED,
        status_callback=None,
        validity_period=None,
        send_at=None,
        due_at=now,
        expires_at=now + timedelta(hours=10),
        detail="GSM-7, 1 segment(s), 0.015 USD",
    )
    return NewMessage(shop.principal, outgoing, connector_id, now)


async def count(store, model) -> int:
    async with store.db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


def test_concurrent_sends_share_one_commit(backend):
    shop = backend.tenant()
    commits = []
    event.listen(backend.store.db.engine.sync_engine, "commit", lambda _: commits.append(1))

    async def send_fifty():
        connector = (await sender_route(backend.store, shop.principal, shop.sender)).connector_id
        intake = Intake(backend.store)
        return await asyncio.gather(
            *(intake.write(new_message(shop, connector, i)) for i in range(50))
        )

    written = backend.run(send_fifty())
    assert len({message.sid for message, _ in written}) == 50
    assert {entry.event for _, entry in written} == {"queued"}
    assert len(commits) == 1
    assert backend.run(count(backend.store, Message)) == 50

    async def timelines():
        async with backend.store.db.sessions() as session:
            return (await session.scalars(select(MessageEvent.message_id))).all()

    assert sorted(backend.run(timelines())) == sorted(message.id for message, _ in written)


def test_a_row_that_cannot_be_written_fails_alone(backend):
    shop = backend.tenant()

    async def send_with_one_bad():
        connector = (await sender_route(backend.store, shop.principal, shop.sender)).connector_id
        intake = Intake(backend.store)
        batch = [new_message(shop, connector, i) for i in range(20)]
        batch[7] = new_message(shop, 999_999, 7)  # no such connector: a foreign-key violation
        return await asyncio.gather(*(intake.write(n) for n in batch), return_exceptions=True)

    results = backend.run(send_with_one_bad())
    assert isinstance(results[7], DBAPIError)
    assert sum(isinstance(r, tuple) for r in results) == 19
    assert backend.run(count(backend.store, Message)) == 19


def test_a_sender_the_account_does_not_own_is_21606(backend):
    shop, other = backend.tenant(), backend.tenant("+15005550007")
    with pytest.raises(InvalidParameter) as refused:
        backend.run(sender_route(backend.store, shop.principal, other.sender))
    assert refused.value.code == 21606


def test_an_opted_out_recipient_is_refused_alone_with_21610(backend):
    shop = backend.tenant()

    async def send_five_one_opted_out():
        async with backend.store.db.transaction() as session:
            await consent.append(
                session,
                backend.store,
                account_id=shop.account_id,
                phone="+14157000002",
                kind=ConsentKind.OPTED_OUT,
                source="keyword",
                evidence={},
                now=datetime.now(UTC),
            )
        connector = (await sender_route(backend.store, shop.principal, shop.sender)).connector_id
        intake = Intake(backend.store)
        batch = [new_message(shop, connector, i) for i in range(5)]
        return await asyncio.gather(*(intake.write(n) for n in batch), return_exceptions=True)

    results = backend.run(send_five_one_opted_out())
    assert isinstance(results[2], consent.RecipientUnsubscribed) and results[2].code == 21610
    assert sum(isinstance(r, tuple) for r in results) == 4
    assert backend.run(count(backend.store, Message)) == 4


def test_a_large_batch_reads_back_as_a_small_one_does(backend):
    """Hundreds at once go in by COPY on PostgreSQL (ids from the sequence): every column,
    money, times, JSON and sealed bytes alike, reads back as the one-by-one insert writes."""
    shop = backend.tenant()

    async def write(batch):
        async with backend.store.db.transaction() as session:
            return await write_messages(session, backend.store, batch)

    async def stored(ids):
        async with backend.store.db.sessions() as session:
            found = await session.scalars(select(Message).where(Message.id.in_(ids)))
            return {m.id: m for m in found}

    connector = backend.run(sender_route(backend.store, shop.principal, shop.sender)).connector_id
    media = ("https://shop.example/a.png", "https://shop.example/b.gif")
    batch = [new_message(shop, connector, i) for i in range(300)]
    batch = [replace(n, outgoing=replace(n.outgoing, media=media)) for n in batch]
    many = backend.run(write(batch))
    one = backend.run(write([new_message(shop, connector, 999)]))
    rows = backend.run(stored([m.id for m, _ in many] + [m.id for m, _ in one]))
    assert len(rows) == 301 and len({m.id for m, _ in many}) == 300
    for message, _ in many:
        row = rows[message.id]
        assert row.sid == message.sid and row.media_urls == list(media)
        assert row.price == Decimal("0.015") and row.due_at == message.due_at
        assert backend.store.cipher.open(row.recipient, "message.to").startswith("+14157")
        assert backend.store.cipher.open(row.body, "message.body").startswith("Order ")
    assert backend.run(count(backend.store, MessageEvent)) == 301
