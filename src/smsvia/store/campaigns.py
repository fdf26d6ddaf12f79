"""Named queries for campaigns and the messages they send. Scoped by account where a caller
names a campaign; the fan-out works by id.

-- campaign_by_sid --        one campaign of the account (locked for an action on request)
-- page_of_campaigns --      newest first
-- ab_tests --              the newest campaigns with an A/B test
-- active_campaigns --       ids of campaigns the dispatch has work for
-- lock_for_fanout --        one campaign, locked; on PostgreSQL skipped while another worker
                             holds it
-- newest_contact_id --      where a launch closes its audience
-- hold_pending --           a pause: the campaign's waiting messages taken off the queue
-- release_held --           a resume: put back, due at their send time or now
-- pending_messages --       waiting messages, locked, a chunk at a time (a cancel)
-- newest_messages --        the campaign's newest messages
-- campaign_figures --       counts and cost of its messages, by variant, status and fallback
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Text, case, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.marketing_models import Campaign, Contact
from smsvia.store.models import Message
from smsvia.store.outbox import MessageRow
from smsvia.store.types import summed_money

WAITING = ("queued", "scheduled")  # in the outbox, not yet taken by a worker
_messages = Message.__table__


async def campaign_by_sid(
    session: AsyncSession, account_id: int, sid: str, *, for_update: bool = False
) -> Campaign | None:
    query = select(Campaign).where(Campaign.account_id == account_id, Campaign.sid == sid)
    if for_update and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    return await session.scalar(query)


async def page_of_campaigns(
    session: AsyncSession, account_id: int, *, before_id: int | None, limit: int
) -> Sequence[Campaign]:
    query = select(Campaign).where(Campaign.account_id == account_id)
    if before_id is not None:
        query = query.where(Campaign.id < before_id)
    return (await session.scalars(query.order_by(Campaign.id.desc()).limit(limit))).all()


async def ab_tests(session: AsyncSession, account_id: int, *, limit: int) -> Sequence[Campaign]:
    query = (
        select(Campaign)
        .where(
            Campaign.account_id == account_id,
            Campaign.ab_test.is_not(None),
            cast(Campaign.ab_test, Text) != "null",  # JSON's null, as a campaign without one
            Campaign.launched_at.is_not(None),
        )
        .order_by(Campaign.id.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def active_campaigns(session: AsyncSession) -> Sequence[int]:
    return (
        await session.scalars(
            select(Campaign.id)
            .where(Campaign.status.in_(("scheduled", "sending")))
            .order_by(Campaign.id)
        )
    ).all()


async def lock_for_fanout(session: AsyncSession, campaign_id: int) -> Campaign | None:
    query = select(Campaign).where(Campaign.id == campaign_id)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return await session.scalar(query)


async def newest_contact_id(session: AsyncSession, account_id: int) -> int:
    newest = await session.scalar(
        select(func.max(Contact.id)).where(Contact.account_id == account_id)
    )
    return newest or 0


async def hold_pending(session: AsyncSession, campaign_sid: str) -> int:
    """Take the campaign's waiting messages off the queue (due_at NULL); a message a worker
    holds already goes on. Returns how many were held."""
    result = await session.execute(
        update(Message)
        .where(
            Message.campaign_sid == campaign_sid,
            Message.status.in_(WAITING),
            Message.due_at.is_not(None),
            Message.lease_owner.is_(None),
        )
        .values(due_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def release_held(session: AsyncSession, campaign_sid: str, now: datetime) -> int:
    """Put held messages back: due at their own send time, or now if that has passed. The
    worker checks quiet hours again as they go."""
    result = await session.execute(
        update(Message)
        .where(
            Message.campaign_sid == campaign_sid,
            Message.status.in_(WAITING),
            Message.due_at.is_(None),
        )
        .values(
            due_at=case(
                (Message.send_at > now, Message.send_at),
                else_=now,
            )
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def pending_messages(
    session: AsyncSession, campaign_sid: str, *, after_id: int, limit: int
) -> list[MessageRow]:
    query = (
        select(_messages)
        .where(
            _messages.c.campaign_sid == campaign_sid,
            _messages.c.status.in_(WAITING),
            _messages.c.lease_owner.is_(None),
            _messages.c.id > after_id,
        )
        .order_by(_messages.c.id)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [MessageRow(row) for row in await session.execute(query)]


async def newest_messages(session: AsyncSession, campaign_sid: str, limit: int) -> list[Message]:
    found = await session.scalars(
        select(Message)
        .where(Message.campaign_sid == campaign_sid)
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return list(found)


@dataclass(frozen=True, slots=True)
class Figure:
    """How many of a campaign's messages are in one variant, status and channel."""

    variant: str
    status: str
    fallback: bool  # sent as SMS after RCS was tried
    count: int
    cost: Decimal


async def campaign_figures(session: AsyncSession, campaign_sid: str) -> list[Figure]:
    fallback = Message.fallback_reason.is_not(None)
    rows = await session.execute(
        select(
            Message.campaign_variant,
            Message.status,
            fallback,
            func.count(),
            func.sum(Message.price),
        )
        .where(Message.campaign_sid == campaign_sid)
        .group_by(Message.campaign_variant, Message.status, fallback)
    )
    return [
        Figure(variant or "", status, bool(fell), count, summed_money(cost))
        for variant, status, fell, count, cost in rows
    ]
