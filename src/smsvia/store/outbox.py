"""The outbox: the messages table is the queue. Named queries for claiming and finishing work.

-- claim_due_messages --   take up to N due messages no live lease holds (SKIP LOCKED on
                           PostgreSQL, so workers never wait on each other); expired leases
                           are taken back, which is how a crashed worker's work is resumed
-- parts_of --             the submit_sm parts of claimed messages
-- messages_for_update --  claimed messages again, locked, to record what became of them
-- parts_by_smsc_ids --    the parts delivery receipts may answer
-- ambiguous_parts_for --  unanswered parts to the same handsets on the same connector
-- mark_receipts_tried --  count a matching attempt; matched receipts are done
-- unapplied_receipts --   receipts not yet matched to a part
-- queue_depth --          messages waiting, for /metrics

`release` ends a worker's lease on a claimed message (due again at `due_at`, or never).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.leases import claim_due
from smsvia.store.models import Message, MessagePart, ReceiptInbox


async def claim_due_messages(
    session: AsyncSession,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
) -> Sequence[Message]:
    return await claim_due(
        session,
        Message,
        owner=owner,
        now=now,
        lease_until=lease_until,
        limit=limit,
        also_set={"attempts": Message.attempts + 1},
    )


async def parts_of(session: AsyncSession, message_ids: Sequence[int]) -> Sequence[MessagePart]:
    return (
        await session.scalars(
            select(MessagePart)
            .where(MessagePart.message_id.in_(message_ids))
            .order_by(MessagePart.message_id, MessagePart.sequence)
        )
    ).all()


async def messages_for_update(
    session: AsyncSession, message_ids: Sequence[int]
) -> Sequence[Message]:
    query = select(Message).where(Message.id.in_(message_ids)).order_by(Message.id)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await session.scalars(query)).all()


async def parts_by_smsc_ids(
    session: AsyncSession, connector_id: int, smsc_message_ids: Collection[str]
) -> Sequence[MessagePart]:
    """Every part on the connector with one of these SMSC ids (ids can come round again,
    so one id may match an old, finished part too)."""
    return (
        await session.scalars(
            select(MessagePart).where(
                MessagePart.connector_id == connector_id,
                MessagePart.smsc_message_id.in_(list(smsc_message_ids)),
            )
        )
    ).all()


async def ambiguous_parts_for(
    session: AsyncSession, connector_id: int, recipient_indexes: Collection[str]
) -> Sequence[tuple[MessagePart, str]]:
    """Unanswered parts to these handsets on the connector, oldest first, with the
    recipient's blind index."""
    rows = await session.execute(
        select(MessagePart, Message.recipient_index)
        .join(Message, Message.id == MessagePart.message_id)
        .where(
            MessagePart.connector_id == connector_id,
            MessagePart.status == "ambiguous",
            Message.recipient_index.in_(list(recipient_indexes)),
        )
        .order_by(MessagePart.id)
    )
    return [(part, index) for part, index in rows.all()]


async def mark_receipts_tried(
    session: AsyncSession, ids: Sequence[int], *, matched: Collection[int], now: datetime
) -> None:
    """Count a matching attempt on each receipt; the matched ones are done."""
    done = [i for i in ids if i in matched]
    missed = [i for i in ids if i not in matched]
    if done:
        await session.execute(
            update(ReceiptInbox)
            .where(ReceiptInbox.id.in_(done))
            .values(attempts=ReceiptInbox.attempts + 1, applied_at=now)
        )
    if missed:
        await session.execute(
            update(ReceiptInbox)
            .where(ReceiptInbox.id.in_(missed))
            .values(attempts=ReceiptInbox.attempts + 1)
        )


async def unapplied_receipts(
    session: AsyncSession, *, tried_before: datetime, untried_before: datetime, limit: int
) -> Sequence[ReceiptInbox]:
    """Receipts not matched yet: tried and missed before `tried_before`, or never tried
    and received before `untried_before`."""
    return (
        await session.scalars(
            select(ReceiptInbox)
            .where(
                ReceiptInbox.applied_at.is_(None),
                or_(
                    and_(ReceiptInbox.attempts > 0, ReceiptInbox.received_at <= tried_before),
                    ReceiptInbox.received_at <= untried_before,
                ),
            )
            .order_by(ReceiptInbox.id)
            .limit(limit)
        )
    ).all()


async def queue_depth(session: AsyncSession, now: datetime) -> int:
    return (
        await session.scalar(select(func.count()).select_from(Message).where(Message.due_at <= now))
        or 0
    )


def release(message: Message, due_at: datetime | None) -> None:
    """Give a claimed message back: due again at `due_at`, or done with (None)."""
    message.lease_owner = None
    message.lease_expires_at = None
    message.due_at = due_at
