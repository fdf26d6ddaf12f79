"""Named queries that prune what is kept only for a while, a batch at a time.

-- applied_receipts --   receipts matched to their part (or set aside) before the cutoff;
                         a receipt still waiting for its part is never pruned
-- processed_rcs_events -- RBM pushes processed before the cutoff
-- final_timelines --    timeline entries older than the cutoff, of messages whose status
                         is final (a message still under way keeps all of its own)
-- finished_webhooks --  status callbacks delivered or given up on, made before the cutoff,
                         with their attempts; one still pending is never pruned

Messages, contacts, the consent ledger and the audit log are never pruned here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain.status import FINAL
from smsvia.store.models import (
    Message,
    MessageEvent,
    RcsEvent,
    ReceiptInbox,
    WebhookAttempt,
    WebhookDelivery,
)


async def applied_receipts(session: AsyncSession, before: datetime, limit: int) -> int:
    ids = (
        select(ReceiptInbox.id)
        .where(ReceiptInbox.applied_at.is_not(None), ReceiptInbox.applied_at < before)
        .limit(limit)
    )
    return await _delete(session, ReceiptInbox, ReceiptInbox.id, ids)


async def processed_rcs_events(session: AsyncSession, before: datetime, limit: int) -> int:
    ids = (
        select(RcsEvent.id)
        .where(RcsEvent.processed_at.is_not(None), RcsEvent.processed_at < before)
        .limit(limit)
    )
    return await _delete(session, RcsEvent, RcsEvent.id, ids)


async def final_timelines(session: AsyncSession, before: datetime, limit: int) -> int:
    ids = (
        select(MessageEvent.id)
        .join(Message, Message.id == MessageEvent.message_id)
        .where(MessageEvent.at < before, Message.status.in_([str(s) for s in FINAL]))
        .limit(limit)
    )
    return await _delete(session, MessageEvent, MessageEvent.id, ids)


async def finished_webhooks(session: AsyncSession, before: datetime, limit: int) -> int:
    found = list(
        await session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status != "pending", WebhookDelivery.date_created < before)
            .limit(limit)
        )
    )
    if found:
        await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(found)))
        await session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(found)))
    return len(found)


async def _delete(session: AsyncSession, table, column, ids) -> int:
    found = list(await session.scalars(ids))
    if found:
        await session.execute(delete(table).where(column.in_(found)))
    return len(found)
