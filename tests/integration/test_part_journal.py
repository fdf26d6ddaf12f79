"""The part journal on SQLite and PostgreSQL: a part's outcome, once known, is never
overwritten; only a part written before a crash is ambiguous, and the rest go out once;
an intent is written only while the worker holds its message; and a receipt that beats
the worker's record of the batch still calls back sent, then delivered."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from smsvia.channels.base import PartOutcome, PartResult, ReceiptHeard, SmsSubmission
from smsvia.dispatch.journal import PartJournal
from smsvia.dispatch.receipts import ReceiptProcessor
from smsvia.dispatch.worker import Worker
from smsvia.domain.receipts import Receipt
from smsvia.services.delivery import Tracker
from smsvia.services.messages import SendRequest, send_message
from smsvia.store import outbox
from smsvia.store.models import Connector, Message, MessageEvent, MessagePart, WebhookDelivery
from tests.integration.test_outbox_batches import BOOK, claim, queue


def test_a_part_whose_outcome_is_known_is_never_overwritten(backend):
    async def scenario():
        shop = await backend.create_tenant()
        await queue(backend, shop, 3)
        messages = await claim(backend.store, datetime.now(UTC))
        connector = messages[0].connector_id

        def part(message, status, smsc_id):
            return {
                "message_id": message.id,
                "sequence": 1,
                "connector_id": connector,
                "status": status,
                "smsc_message_id": smsc_id,
                "error_code": None,
                "submitted_at": None,
                "done_at": None,
            }

        known, sending, flagged = messages
        async with backend.store.db.transaction() as session:
            first_answers = [
                part(known, "submitted", "a1"),
                part(sending, "sending", None),
                part(flagged, "ambiguous", None),
            ]
            await outbox.record_parts(session, first_answers)
        # A late answer for each: only the parts whose outcome was unknown take it.
        async with backend.store.db.transaction() as session:
            await outbox.record_parts(
                session, [part(m, "submitted", f"late-{m.id}") for m in messages]
            )
        async with backend.store.db.sessions() as session:
            parts = {p.message_id: p for p in (await session.scalars(select(MessagePart))).all()}
        assert parts[known.id].smsc_message_id == "a1"
        assert (parts[sending.id].status, parts[sending.id].smsc_message_id) == (
            "submitted",
            f"late-{sending.id}",
        )
        assert parts[flagged.id].smsc_message_id == f"late-{flagged.id}"

    backend.run(scenario())


class StalledConnection:
    """Writes the first part and never hears back: the process dies before the SMSC's
    answer comes. Asks the gate first, as every channel does."""

    name = "stalled"

    def __init__(self) -> None:
        self.written: list[int] = []

    async def submit(self, submission: SmsSubmission) -> list[PartResult]:
        first = submission.parts[0]
        assert await submission.gate.writing(first.sequence)
        self.written.append(first.sequence)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class AnsweringConnection:
    name = "answering"

    def __init__(self) -> None:
        self.taken: list[SmsSubmission] = []

    async def submit(self, submission: SmsSubmission) -> list[PartResult]:
        self.taken.append(submission)
        results = []
        for part in submission.parts:
            assert await submission.gate.writing(part.sequence)
            result = PartResult(part.sequence, PartOutcome.ACCEPTED, f"x{part.sequence}")
            submission.gate.answered(result)
            results.append(result)
        return results


def test_only_a_part_written_before_a_crash_is_ambiguous_the_rest_go_out_once(backend):
    async def scenario():
        shop = await backend.create_tenant()
        await queue(backend, shop, 1, body="A long update on your order. " * 14)  # 3 parts
        async with backend.store.db.sessions() as session:
            message = await session.scalar(select(Message))
        stalled, answering = StalledConnection(), AnsweringConnection()
        tracker = Tracker(backend.store)
        first = Worker(backend.store, {message.connector_id: stalled}, tracker, owner="first")
        running = asyncio.create_task(first.run_once())
        while not stalled.written:
            await asyncio.sleep(0.01)
        running.cancel()  # the worker is gone: part 1 written, unanswered; 2 and 3 never left
        with contextlib.suppress(asyncio.CancelledError):
            await running

        later = datetime.now(UTC) + timedelta(hours=1)  # the first worker's lease has run out
        second = Worker(
            backend.store,
            {message.connector_id: answering},
            tracker,
            owner="second",
            clock=lambda: later,
        )
        assert await second.run_once() == 1
        async with backend.store.db.sessions() as session:
            after = await session.get(Message, message.id)
            parts = (
                await session.execute(
                    select(
                        MessagePart.sequence, MessagePart.status, MessagePart.smsc_message_id
                    ).order_by(MessagePart.sequence)
                )
            ).all()
            events = (await session.scalars(select(MessageEvent.event))).all()
        assert [p.sequence for p in answering.taken[0].parts] == [2, 3]
        assert after.status == "sent"
        assert [tuple(p) for p in parts] == [
            (1, "ambiguous", None),
            (2, "submitted", "x2"),
            (3, "submitted", "x3"),
        ]
        assert events.count("ambiguous") == 1

    backend.run(scenario())


def test_an_intent_is_written_only_while_the_worker_holds_the_message(backend):
    """The lease owner fences the wire: a worker whose message was taken over sends
    nothing more of it."""

    async def scenario():
        shop = await backend.create_tenant()
        await queue(backend, shop, 2)
        now = datetime.now(UTC)
        held, taken = await claim(backend.store, now)
        async with backend.store.db.transaction() as session:
            taken.lease_owner = "successor"
            await outbox.save(session, [taken])
        journal = PartJournal(backend.store, "test")
        return await asyncio.gather(
            journal.writing(held.id, held.connector_id, 1),
            journal.writing(taken.id, taken.connector_id, 1),
        ), journal.commits

    (ours, theirs), commits = backend.run(scenario())
    assert (ours, theirs) == (True, False)
    assert commits == 1  # both asked together: one group commit


def test_a_receipt_that_beats_the_batch_record_still_calls_back_sent_then_delivered(backend):
    """A part's answer is journaled at once, so the SMSC's receipt can settle a message the
    worker has not yet recorded as sent; it is sent first, then delivered, both called back."""

    async def scenario():
        shop = await backend.create_tenant()
        await send_message(
            backend.store,
            shop.principal,
            SendRequest(
                to="+14155550100",
                sender=shop.sender,
                body="Shipped",
                status_callback="https://shop.example/status",
            ),
            price_book=BOOK,
        )
        now = datetime.now(UTC)
        (message,) = await claim(backend.store, now)
        async with backend.store.db.transaction() as session:
            message.status = "sending"
            await outbox.save(session, [message])
            await outbox.record_parts(session, [answered_part(message, "5f3a")])
            connector = await session.get(Connector, message.connector_id)
        processor = ReceiptProcessor(
            backend.store, Tracker(backend.store), {connector.name: connector.id}
        )
        stop = asyncio.Event()
        running = asyncio.create_task(processor.run(stop))
        receipt = Receipt("5f3a", "DELIVRD", "000", "")
        await processor.heard(ReceiptHeard(connector.name, receipt, "+14155550100"))
        for _ in range(200):
            async with backend.store.db.sessions() as session:
                settled = await session.get(Message, message.id)
            if settled.status == "delivered":
                break
            await asyncio.sleep(0.05)
        stop.set()
        await running
        async with backend.store.db.sessions() as session:
            events = (
                await session.scalars(select(MessageEvent.event).order_by(MessageEvent.id))
            ).all()
            callbacks = (await session.scalars(select(WebhookDelivery.payload))).all()
        statuses = [
            json.loads(backend.store.cipher.open(p, "webhook.payload"))["MessageStatus"]
            for p in callbacks
        ]
        return settled, events, statuses

    settled, events, statuses = backend.run(scenario())
    assert settled.status == "delivered" and settled.date_sent is not None
    assert events[-2:] == ["sent", "delivered"]
    assert statuses == ["sent", "delivered"]


def answered_part(message, smsc_id: str) -> dict:
    return {
        "message_id": message.id,
        "sequence": 1,
        "connector_id": message.connector_id,
        "status": "submitted",
        "smsc_message_id": smsc_id,
        "smsc_key": smsc_id,
        "error_code": None,
        "submitted_at": datetime.now(UTC),
        "done_at": None,
    }
