"""Retention on both databases: pruning takes what is past its time and keeps every
guarantee — a receipt still waiting, a callback still to make, a message still under way,
messages themselves, the consent ledger and the audit log; a receipt repeated after its
first was pruned changes nothing; RBM pushes stay long enough to be known as repeats."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from smsvia.services import audit
from smsvia.services.clock import utcnow
from smsvia.services.consent import verify
from smsvia.services.retention import Retention, prune
from smsvia.store.audit_models import AuditEvent
from smsvia.store.marketing_models import ConsentEvent
from smsvia.store.models import (
    Connector,
    Message,
    MessageEvent,
    RcsEvent,
    ReceiptInbox,
    WebhookAttempt,
    WebhookDelivery,
)
from tests.integration.scenario import Scenario
from tests.integration.test_consent import handset_says, replies, wait_until

KEEP = Retention(receipts_days=30, timeline_days=30, webhooks_days=30)
LATER = timedelta(days=40)  # pruning as it would run forty days from now


async def count(backend, table, *where) -> int:
    async with backend.store.db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(table).where(*where))


def test_pruning_keeps_every_guarantee(backend, callback_receiver):
    async def run():
        async with Scenario(backend) as sc:
            hook = f"{callback_receiver.url}/status"
            done = await sc.send("+14155550100", status_callback=hook)
            waiting = await sc.send("+14155559997", status_callback=hook)  # no receipt comes
            await sc.wait_for(done.sid, "delivered")
            await sc.wait_for(waiting.sid, "sent")
            await handset_says(sc, "STOP")
            await wait_until(lambda: replies(sc) and len(callback_receiver.received) >= 3)
            await audit.record(
                backend.store, sc.shop.account_id, audit.Change(actor="cli:ops", action="x.y")
            )
            await asyncio.sleep(0.3)  # the last callback's bookkeeping
            connector = (await _ids(backend, done.sid))[1]
            async with backend.store.db.transaction() as session:
                # A receipt that never found its part, and a callback still to be made.
                session.add(
                    ReceiptInbox(
                        connector_id=connector,
                        smsc_message_id="ffff0001",
                        state="DELIVRD",
                        recipient_index="x",
                        received_at=utcnow(),  # set aside after an hour; not yet
                        attempts=1,
                    )
                )
                pending = WebhookDelivery(
                    account_id=sc.shop.account_id,
                    url=hook,
                    payload=b"sealed",
                    status="pending",
                    attempts=1,
                    due_at=utcnow() + timedelta(days=365),
                    date_created=utcnow() - LATER,
                )
                session.add(pending)
                await session.flush()
                session.add(
                    WebhookAttempt(
                        delivery_id=pending.id, at=utcnow(), response_status=500, duration_ms=3
                    )
                )
            before = await _snapshot(backend, done.sid, waiting.sid)
            pruned = await prune(backend.store, KEEP, clock=lambda: utcnow() + LATER)
            after = await _snapshot(backend, done.sid, waiting.sid)

            # An SMSC repeats every receipt: the delivered message takes none of it again.
            heard, sent_before = len(callback_receiver.received), sc.sim.receipts_sent
            await sc.sim.repeat_receipts()
            repeated = sc.sim.receipts_sent - sent_before
            applied = ReceiptInbox.applied_at.is_not(None)
            for _ in range(200):  # until every repeat is in and applied
                if await count(backend, ReceiptInbox, applied) == repeated:
                    break
                await asyncio.sleep(0.05)
            assert repeated >= 1 and await count(backend, ReceiptInbox, applied) == repeated
            await asyncio.sleep(0.5)
            again = await sc.wait_for(done.sid, "delivered")
            return pruned, before, after, heard, len(callback_receiver.received), again

    pruned, before, after, heard, heard_later, again = backend.run(run())
    assert pruned["receipts"] >= 1 and pruned["timeline"] >= 1 and pruned["webhooks"] >= 2
    assert after["messages"] == before["messages"]  # never pruned
    assert after["consent"] == before["consent"] and after["ledger"] == (before["consent"], [])
    assert after["audit"] == before["audit"]
    assert after["waiting receipts"] == before["waiting receipts"] == 1
    assert after["applied receipts"] == 0
    assert after["timeline of delivered"] == 0 and before["timeline of delivered"] > 0
    assert after["timeline of sent"] == before["timeline of sent"] > 0  # still under way
    assert after["pending callbacks"] == before["pending callbacks"] == (1, 1)
    assert after["finished callbacks"] == (0, 0) and before["finished callbacks"][0] >= 2
    assert heard_later == heard and again.status == "delivered"


async def _ids(backend, sid: str) -> tuple[int, int]:
    async with backend.store.db.sessions() as session:
        message = await session.scalar(select(Message).where(Message.sid == sid))
        return message.id, message.connector_id


async def _snapshot(backend, delivered_sid: str, sent_sid: str) -> dict[str, object]:
    delivered, _ = await _ids(backend, delivered_sid)
    sent, _ = await _ids(backend, sent_sid)
    finished = WebhookDelivery.status != "pending"
    pending = WebhookDelivery.status == "pending"
    return {
        "messages": await count(backend, Message),
        "consent": await count(backend, ConsentEvent),
        "ledger": await verify(backend.store),
        "audit": await count(backend, AuditEvent),
        "waiting receipts": await count(backend, ReceiptInbox, ReceiptInbox.applied_at.is_(None)),
        "applied receipts": await count(
            backend, ReceiptInbox, ReceiptInbox.applied_at.is_not(None)
        ),
        "timeline of delivered": await count(
            backend, MessageEvent, MessageEvent.message_id == delivered
        ),
        "timeline of sent": await count(backend, MessageEvent, MessageEvent.message_id == sent),
        "finished callbacks": (
            await count(backend, WebhookDelivery, finished),
            await count(
                backend,
                WebhookAttempt,
                WebhookAttempt.delivery_id.in_(select(WebhookDelivery.id).where(finished)),
            ),
        ),
        "pending callbacks": (
            await count(backend, WebhookDelivery, pending),
            await count(
                backend,
                WebhookAttempt,
                WebhookAttempt.delivery_id.in_(select(WebhookDelivery.id).where(pending)),
            ),
        ),
    }


def test_rbm_pushes_are_kept_eight_days_whatever_the_setting(backend):
    backend.tenant()  # a connector for the events

    async def run():
        now = utcnow()
        async with backend.store.db.transaction() as session:
            connector = await session.scalar(select(Connector.id).limit(1))
            for n, age in enumerate((1, 5, 9, None)):
                session.add(
                    RcsEvent(
                        connector_id=connector,
                        event_id=f"event-{n}",
                        payload=b"sealed",
                        received_at=now - timedelta(days=age or 0),
                        processed_at=now - timedelta(days=age) if age else None,
                    )
                )
        pruned = await prune(backend.store, Retention(receipts_days=1))
        async with backend.store.db.sessions() as session:
            left = sorted(await session.scalars(select(RcsEvent.event_id)))
        return pruned, left

    pruned, left = backend.run(run())
    assert pruned["rcs events"] == 1
    assert left == ["event-0", "event-1", "event-3"]  # 1 and 5 days old, and unprocessed
