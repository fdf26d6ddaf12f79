"""Receipts from SMSCs that write their ids every which way, each settling its own message.

The simulator says DELIVRD to some destinations and UNDELIV to others, so a receipt that
settled somebody else's message shows as a wrong final status, or as a message left `sent`.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from smsvia.services.messages import SendRequest, send_messages
from smsvia.sim.smsc import SmscBehaviour
from smsvia.store.models import Message
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
