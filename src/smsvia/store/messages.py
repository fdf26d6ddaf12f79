"""Queries about messages and their timelines. Every one is scoped by account."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.crypto import Indexes
from smsvia.store.models import (
    Message,
    MessageEvent,
    MessagePart,
    WebhookAttempt,
    WebhookDelivery,
)
from smsvia.store.rows import among


@dataclass(frozen=True, slots=True)
class Party:
    """A `To` or `From` filter as Twilio means it: the customer's number (stored sealed, as
    `recipient_index`) or ours (stored plain, as `sender`), by direction."""

    indexes: tuple[str, ...]  # the blind indexes of the number, when it is one
    sender: str  # the number as a sender (E.164, or an alphanumeric sender ID)


@dataclass(frozen=True, slots=True)
class MessageFilter:
    to: Party | None = None
    sender: Party | None = None
    sent_on_or_after: datetime | None = None
    sent_before: datetime | None = None
    status: str | None = None


async def message_by_sid(session: AsyncSession, account_id: int, sid: str) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.account_id == account_id, Message.sid == sid)
    )


async def marketing_times(
    session: AsyncSession,
    account_id: int,
    recipients: Indexes,
    since: datetime,
    until: datetime,
) -> dict[str, list[datetime]]:
    """When each recipient's marketing messages went (or are due to go) between the two
    times, canceled ones aside: what the frequency caps count. Keyed by primary index."""
    when = func.coalesce(Message.date_sent, Message.due_at, Message.date_created)
    rows = await session.execute(
        select(Message.recipient_index, when).where(
            Message.account_id == account_id,
            among(session, Message.recipient_index, recipients.all),
            Message.category == "marketing",
            Message.direction != "inbound",
            Message.status != "canceled",
            when >= since,
            when < until,
        )
    )
    times: dict[str, list[datetime]] = {}
    for index, at in rows:
        times.setdefault(recipients.canonical[index], []).append(at)
    return times


async def pending_to(
    session: AsyncSession, account_id: int, recipient_indexes: Collection[str], now: datetime
) -> Sequence[Message]:
    """The account's messages to this recipient that wait in the outbox and no worker holds
    (a held one may be on the wire already). Locked; on PostgreSQL a held row is skipped."""
    query = select(Message).where(
        Message.account_id == account_id,
        Message.recipient_index.in_(list(recipient_indexes)),
        Message.direction != "inbound",
        Message.status.in_(("queued", "scheduled")),
        (Message.lease_expires_at.is_(None)) | (Message.lease_expires_at < now),
    )
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return (await session.scalars(query.order_by(Message.id))).all()


async def message_by_preview_token(session: AsyncSession, token: str) -> Message | None:
    """Not scoped by account: the token itself is the key to a public preview page."""
    return await session.scalar(select(Message).where(Message.preview_token == token))


async def page_of_messages(
    session: AsyncSession,
    account_id: int,
    where: MessageFilter,
    *,
    before_id: int | None,
    limit: int,
    offset: int = 0,
) -> Sequence[Message]:
    """Newest first, `limit` of them, older than `before_id` when paging on by token."""
    query = select(Message).where(Message.account_id == account_id)
    if where.to is not None:
        # Outbound: to the customer; inbound: to our number.
        query = query.where(_party(where.to, customer_when_inbound=False))
    if where.sender is not None:
        # Outbound: from our number; inbound: from the customer.
        query = query.where(_party(where.sender, customer_when_inbound=True))
    if where.sent_on_or_after is not None:
        query = query.where(Message.date_sent >= where.sent_on_or_after)
    if where.sent_before is not None:
        query = query.where(Message.date_sent < where.sent_before)
    if where.status is not None:
        query = query.where(Message.status == where.status)
    if before_id is not None:
        query = query.where(Message.id < before_id)
    query = query.order_by(Message.id.desc()).limit(limit).offset(offset)
    return (await session.scalars(query)).all()


def _party(party: Party, *, customer_when_inbound: bool) -> ColumnElement[bool]:
    inbound = Message.direction == "inbound"
    customer = Message.recipient_index.in_(party.indexes) if party.indexes else false()
    ours = Message.sender == party.sender
    if customer_when_inbound:
        return or_(and_(inbound, customer), and_(~inbound, ours))
    return or_(and_(inbound, ours), and_(~inbound, customer))


async def status_counts(session: AsyncSession, account_id: int, *, recent: int) -> dict[str, int]:
    """How many of the account's last `recent` messages are in each status."""
    latest = (
        select(Message.status)
        .where(Message.account_id == account_id)
        .order_by(Message.id.desc())
        .limit(recent)
        .subquery()
    )
    rows = await session.execute(select(latest.c.status, func.count()).group_by(latest.c.status))
    return {status: count for status, count in rows}


async def timeline(session: AsyncSession, message_id: int) -> Sequence[MessageEvent]:
    return (
        await session.scalars(
            select(MessageEvent)
            .where(MessageEvent.message_id == message_id)
            .order_by(MessageEvent.id)
        )
    ).all()


def record_event(
    session: AsyncSession, message_id: int, at: datetime, event: str, detail: str = ""
) -> None:
    session.add(MessageEvent(message_id=message_id, at=at, event=event, detail=detail))


async def delete_message(session: AsyncSession, message_id: int) -> None:
    """The message and what was written about it: its timeline, parts and status callbacks
    name it without a foreign key (models.MessageEvent), so nothing cascades to them."""
    callbacks = select(WebhookDelivery.id).where(WebhookDelivery.message_id == message_id)
    await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(callbacks)))
    for child in (WebhookDelivery, MessagePart, MessageEvent):
        await session.execute(delete(child).where(child.message_id == message_id))
    # Its media still cascade (a foreign key: they are written once, at the API).
    await session.execute(delete(Message).where(Message.id == message_id))
