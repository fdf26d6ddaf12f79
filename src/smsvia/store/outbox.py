"""The outbox: the messages table is the queue. Named queries for claiming and finishing work.

-- claim_due_messages --   take up to N due messages no live lease holds (SKIP LOCKED on
                           PostgreSQL, so workers never wait on each other); expired leases
                           are taken back, which is how a crashed worker's work is resumed
-- parts_of --             the submit_sm parts of claimed messages
-- messages_for_update --  claimed messages again, locked, to record what became of them
-- part_by_smsc_id --      the part a delivery receipt answers
-- ambiguous_part_for --   an unanswered part to the same handset on the same connector
-- unapplied_receipts --   receipts not yet matched to a part
-- queue_depth --          messages waiting, for /metrics
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.models import Message, MessagePart, ReceiptInbox


async def claim_due_messages(
    session: AsyncSession,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
) -> Sequence[Message]:
    candidates = (
        select(Message.id)
        .where(
            Message.due_at <= now,
            or_(Message.lease_expires_at.is_(None), Message.lease_expires_at < now),
        )
        .order_by(Message.due_at, Message.id)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claimed = (
        await session.scalars(
            update(Message)
            .where(Message.id.in_(candidates.scalar_subquery()))
            .values(lease_owner=owner, lease_expires_at=lease_until, attempts=Message.attempts + 1)
            .returning(Message.id)
        )
    ).all()
    if not claimed:
        return []
    return (
        await session.scalars(
            select(Message)
            .where(Message.id.in_(claimed))
            .order_by(Message.id)
            .execution_options(populate_existing=True)
        )
    ).all()


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


async def part_by_smsc_id(
    session: AsyncSession, connector_id: int, smsc_message_ids: Sequence[str]
) -> MessagePart | None:
    """The part awaiting this receipt, else the newest that had it (a repeated receipt).

    SMSC ids are not unique forever (an SMSC may count from 1 again after a restart), so a
    part still waiting for its receipt wins over one that already has it.
    """
    return await session.scalar(
        select(MessagePart)
        .where(
            MessagePart.connector_id == connector_id,
            MessagePart.smsc_message_id.in_(smsc_message_ids),
        )
        .order_by((MessagePart.status == "submitted").desc(), MessagePart.id.desc())
        .limit(1)
    )


async def ambiguous_part_for(
    session: AsyncSession, connector_id: int, recipient_index: str
) -> MessagePart | None:
    return await session.scalar(
        select(MessagePart)
        .join(Message, Message.id == MessagePart.message_id)
        .where(
            MessagePart.connector_id == connector_id,
            MessagePart.status == "ambiguous",
            Message.recipient_index == recipient_index,
        )
        .order_by(MessagePart.id)
        .limit(1)
    )


async def unapplied_receipts(
    session: AsyncSession, received_before: datetime, limit: int
) -> Sequence[ReceiptInbox]:
    return (
        await session.scalars(
            select(ReceiptInbox)
            .where(ReceiptInbox.applied_at.is_(None), ReceiptInbox.received_at <= received_before)
            .order_by(ReceiptInbox.id)
            .limit(limit)
        )
    ).all()


async def queue_depth(session: AsyncSession, now: datetime) -> int:
    return (
        await session.scalar(select(func.count()).select_from(Message).where(Message.due_at <= now))
        or 0
    )
