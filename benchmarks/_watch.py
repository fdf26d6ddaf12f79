"""Where smsvia's messages are, read from its database while a run settles."""

from __future__ import annotations

import asyncio
import time

from _history import Since
from sqlalchemy import func, select

from smsvia.store.models import Message, MessageEvent, ReceiptInbox


async def counts(store, since: Since) -> dict[str, int]:
    """The run's messages by status."""
    async with store.db.sessions() as session:
        rows = await session.execute(
            select(Message.status, func.count())
            .where(Message.id > since.message_id)
            .group_by(Message.status)
        )
        return dict(rows.all())


async def print_trace(store, elapsed: float, statuses: dict, heard: dict, since: Since) -> None:
    """A line of where the messages are: statuses, callbacks heard, receipts stored/applied."""
    async with store.db.sessions() as session:
        stored, applied = (
            await session.execute(
                select(func.count(), func.count(ReceiptInbox.applied_at)).where(
                    ReceiptInbox.id > since.receipt_id
                )
            )
        ).one()
    print(f"{elapsed:6.1f}s {statuses} callbacks {heard} receipts {stored}/{applied}", flush=True)


async def settled_count(store, since: Since) -> int:
    """How many messages the server accepted: wrk stops at N answers, with a few requests
    still in flight; their messages count once they are committed."""
    count, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 1:
        now = sum((await counts(store, since)).values())
        if now != count:
            count, stable_since = now, time.monotonic()
        await asyncio.sleep(0.1)
    return count


async def fallback_latencies(store) -> list[tuple[float, float]]:
    """For each message that fell back: seconds from its creation to its SMS submit, and
    from the fallback decision (the capability answer) to the SMS submit."""
    async with store.db.sessions() as session:
        rows = await session.execute(
            select(Message.id, Message.date_created, MessageEvent.event, MessageEvent.at)
            .join(MessageEvent, MessageEvent.message_id == Message.id)
            .where(Message.fallback_reason.is_not(None))
            .order_by(MessageEvent.id)
        )
        timelines: dict[int, tuple[object, dict[str, object]]] = {}
        for message_id, created, event, at in rows:
            timelines.setdefault(message_id, (created, {}))[1][event] = at
    return [
        ((ev["sent"] - created).total_seconds(), (ev["sent"] - ev["capability"]).total_seconds())
        for created, ev in timelines.values()
        if "sent" in ev and "capability" in ev
    ]
