"""Receipts from SMSCs that write their ids and states every which way, each settling its
own message; and the sweep, for those that came before their submits were recorded.

The simulator says DELIVRD to some destinations and UNDELIV to others, so a receipt that
settled somebody else's message shows as a wrong final status, or as a message left `sent`.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from smsvia.domain.receipt_ids import fitted
from smsvia.services.clock import utcnow
from smsvia.services.messages import SendRequest, send_messages
from smsvia.sim.smsc import SmscBehaviour
from smsvia.store.models import Message, MessagePart, ReceiptInbox
from tests.integration.scenario import BOOK, Scenario

MESSAGES = 10_000
CHUNK = 1_000


def recipient(i: int) -> str:
    # Last four digits under 5000: the simulator's special endings (9997-9999) never come up.
    return f"+1415{300 + i // 5000:03d}{i % 5000:04d}"


def undeliverable(destination: str) -> bool:
    return int(destination) % 3 == 0


async def queue(sc: Scenario, count: int) -> None:
    for first in range(0, count, CHUNK):
        requests = [
            SendRequest(to=recipient(i), sender=sc.shop.sender, body=f"Order {i} shipped")
            for i in range(first, min(first + CHUNK, count))
        ]
        sids = await send_messages(sc.backend.store, sc.shop.principal, requests, price_book=BOOK)
        assert all(isinstance(sid, str) for sid in sids), sids


async def statuses(sc: Scenario) -> Counter[str]:
    async with sc.backend.store.db.sessions() as session:
        rows = await session.execute(select(Message.status, func.count()).group_by(Message.status))
        return Counter(dict(rows.all()))


async def settle_all(sc: Scenario, count: int, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while True:
        now = await statuses(sc)
        if now["delivered"] + now["undelivered"] == count:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not every message settled: {dict(now)}")
        await asyncio.sleep(0.2)


async def wrong_outcomes(sc: Scenario) -> list[str]:
    """Messages whose final status is not what the SMSC said of their handset."""
    cipher = sc.backend.store.cipher
    wrong = []
    async with sc.backend.store.db.sessions() as session:
        for sid, sealed, status in await session.execute(
            select(Message.sid, Message.recipient, Message.status)
        ):
            handset = cipher.open(sealed, "message.to").lstrip("+")
            expected = "undelivered" if undeliverable(handset) else "delivered"
            if status != expected:
                wrong.append(f"{sid} to {handset}: {status}, expected {expected}")
    return wrong


@pytest.mark.parametrize("ids", ["decimal", "hex-to-decimal", "zero-padded"])
def test_every_receipt_settles_its_own_message(backend, ids):
    # Counters from 10, as the SMSCs that cross messages number them: "10" and "16" both
    # read as hex and as decimal.
    behaviour = SmscBehaviour(ids=ids, first_id=10, dlr_delay=0.01, undeliverable=undeliverable)

    async def run():
        async with Scenario(backend, behaviour, window=100, tps=100_000) as sc:
            await queue(sc, MESSAGES)
            await settle_all(sc, MESSAGES)
            habit = sc.dispatch.receipts.habit(next(iter(sc.dispatch.channels)))
            return await wrong_outcomes(sc), habit.reading, len(sc.sim.accepted)

    wrong, learned, submits = backend.run(run())
    assert submits == MESSAGES
    assert wrong == []
    assert str(learned) == ("hex-to-decimal" if ids == "hex-to-decimal" else "same")


def test_ids_longer_than_smpp_allows_each_settle_their_own_message(backend):
    """A relay's ids of 84 characters, all alike for their first 70 (SMPP allows 64): each
    is kept as its beginning and a digest of the whole, the same on both databases, so no
    receipt takes another message's part."""
    behaviour = SmscBehaviour(ids="long", dlr_delay=0.01, undeliverable=undeliverable)
    count = 1_000

    async def run():
        async with Scenario(backend, behaviour, window=100, tps=100_000) as sc:
            await queue(sc, count)
            await settle_all(sc, count, timeout=120)
            async with sc.backend.store.db.sessions() as session:
                kept = (await session.scalars(select(MessagePart.smsc_message_id))).all()
            return await wrong_outcomes(sc), kept, [s.message_id for s in sc.sim.accepted]

    wrong, kept, given = backend.run(run())
    assert wrong == []
    assert sorted(kept) == sorted(fitted(message_id) for message_id in given)
    assert len(set(kept)) == count and all(len(message_id) == 64 for message_id in kept)


def test_a_connector_told_the_wrong_habit_crosses_messages_and_the_test_sees_it(backend):
    """The check above can fail: decimal counters read as hex-to-decimal settle the wrong
    messages."""
    behaviour = SmscBehaviour(
        ids="decimal", first_id=10, dlr_delay=0.01, undeliverable=undeliverable
    )

    async def run():
        options = {"window": 100, "tps": 100_000, "receipt_ids": "hex-to-decimal"}
        async with Scenario(backend, behaviour, **options) as sc:
            await queue(sc, 300)
            await asyncio.sleep(3)
            return await wrong_outcomes(sc)

    assert len(backend.run(run())) > 50


@pytest.mark.parametrize("intermediate", ["BUFFRED", "ENROUTE", "ACKED"])
def test_an_intermediate_receipt_leaves_its_message_sent_for_the_final_one(backend, intermediate):
    """As an SMSC relaying to the next one reports (Kannel writes BUFFRED): on the way, not
    failed; the final receipt then settles the message."""

    async def scenario():
        behaviour = SmscBehaviour(intermediate=intermediate, dlr_delay=0.01)
        async with Scenario(backend, behaviour) as run:
            delivered = await run.send("+14155550100")
            undelivered = await run.send("+14155559999")
            view = await run.wait_for(delivered.sid, "delivered")
            assert f"part 1: {intermediate} err:000" in [entry.detail for entry in view.timeline]
            view = await run.wait_for(undelivered.sid, "undelivered")
            assert view.error_code == 30003
            assert "part 1: UNDELIV err:001" in [entry.detail for entry in view.timeline]

    backend.run(scenario())


@pytest.mark.parametrize("esm_class", [0x08, 0x24, 0x44])
def test_receipts_with_other_receipt_bits_settle_and_are_never_a_customers_text(backend, esm_class):
    """As SME acknowledgements (0x08), with two type bits (0x24) or with UDHI (0x44): read
    as receipts, as Kannel reads them, never received as texts from the customer."""

    async def scenario():
        behaviour = SmscBehaviour(receipt_esm_class=esm_class, dlr_delay=0.01)
        async with Scenario(backend, behaviour) as run:
            delivered = await run.send("+14155550100")
            undelivered = await run.send("+14155559999")
            await run.wait_for(delivered.sid, "delivered")
            await run.wait_for(undelivered.sid, "undelivered")
            async with backend.store.db.sessions() as session:
                inbound = select(func.count()).where(Message.direction == "inbound")
                assert await session.scalar(inbound) == 0

    backend.run(scenario())


# The simulator sends no receipt to this number: the tests below store one themselves.
NO_RECEIPT = "+14155559997"


async def sent_without_receipt(run: Scenario) -> tuple[str, MessagePart]:
    """A message the SMSC took and will never report on, and its part."""
    created = await run.send(NO_RECEIPT)
    await run.wait_for(created.sid, "sent")
    async with run.backend.store.db.sessions() as session:
        return created.sid, await session.scalar(select(MessagePart))


def stored_receipt(
    run: Scenario, part: MessagePart, smsc_id: str, state: str, age: timedelta
) -> ReceiptInbox:
    """An inbox row, as if a receipt for `smsc_id` had come `age` ago and been tried once."""
    return ReceiptInbox(
        connector_id=part.connector_id,
        smsc_message_id=smsc_id,
        state=state,
        error="000",
        recipient_index=run.backend.store.cipher.blind_index(NO_RECEIPT, "phone"),
        received_at=utcnow() - age,
        attempts=1,
    )


def test_sweep_sets_aside_only_old_receipts_that_match_nothing(backend):
    async def scenario():
        async with Scenario(backend) as run:
            sid, part = await sent_without_receipt(run)
            long_ago = timedelta(hours=2)
            matching = stored_receipt(run, part, part.smsc_message_id, "DELIVRD", long_ago)
            stray = stored_receipt(run, part, "deadbeef", "DELIVRD", long_ago)
            async with backend.store.db.transaction() as session:
                session.add_all([matching, stray])
            orphans = REGISTRY.get_sample_value("smsvia_receipts_total", {"result": "orphan"})

            assert await run.dispatch.receipts.sweep() == 1
            view = await run.wait_for(sid, "delivered")
            assert view.status == "delivered"
            # Only the receipt that matched nothing is counted and set aside as an orphan.
            after = REGISTRY.get_sample_value("smsvia_receipts_total", {"result": "orphan"})
            assert (after or 0) - (orphans or 0) == 1
            async with backend.store.db.sessions() as session:
                rows = (await session.scalars(select(ReceiptInbox))).all()
            assert all(row.applied_at is not None for row in rows)

    backend.run(scenario())


@pytest.mark.parametrize(
    ("state", "code", "words"),
    [
        ("UNKNOWN", 30008, "Unknown error"),
        ("DELETED", 30008, "Unknown error"),
        ("EXPIRED", 30003, "Unreachable destination handset"),
        ("REJECTD", 30007, "Message filtered or rejected by the carrier"),
    ],
)
def test_a_failed_receipt_gives_the_message_twilios_words_for_its_code(backend, state, code, words):
    """The code's own description, never another state's (an UNKNOWN receipt was said to be
    "deleted at the SMSC"); the state and error the SMSC wrote stay in the timeline."""

    async def scenario():
        async with Scenario(backend) as run:
            sid, part = await sent_without_receipt(run)
            receipt = stored_receipt(run, part, part.smsc_message_id, state, timedelta(minutes=1))
            async with backend.store.db.transaction() as session:
                session.add(receipt)
            assert await run.dispatch.receipts.sweep() == 1
            view = await run.wait_for(sid, "undelivered")
            assert (view.error_code, view.error_message) == (code, words)
            assert [entry.detail for entry in view.timeline[-2:]] == [
                f"part 1: {state} err:000",  # what the SMSC said, as it said it
                f"DLR: {words}",
            ]

    backend.run(scenario())
