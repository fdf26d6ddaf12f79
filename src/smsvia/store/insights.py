"""Named queries behind the insights: an account's campaign messages since some moment,
counted by the hour they were sent (UTC), by channel, and by the segment their campaign
went to; each with how many were delivered, clicked (messages, not clicks) and bought from.

-- by_send_hour --        hour of day -> figures
-- by_channel --          report channel (rcs | sms | mms | sms_fallback) -> figures
-- segment_opt_outs --    segment -> campaign messages and recipients who opted out after
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, distinct, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.marketing_models import Campaign, ConsentEvent, Segment
from smsvia.store.models import Message
from smsvia.store.reports import channel_of
from smsvia.store.tracking_models import Click, Order

DELIVERED = ("delivered", "read")


@dataclass
class Figures:
    sent: int = 0
    delivered: int = 0
    clicked: int = 0  # messages with at least one click
    orders: int = 0


async def by_send_hour(
    session: AsyncSession, account_id: int, since: datetime
) -> dict[int, Figures]:
    hour = _hour_of_day(session, Message.date_sent)
    return await _grouped(session, account_id, since, hour, Message.date_sent.is_not(None))


async def by_channel(session: AsyncSession, account_id: int, since: datetime) -> dict[str, Figures]:
    return await _grouped(session, account_id, since, channel_of())


async def _grouped(
    session: AsyncSession,
    account_id: int,
    since: datetime,
    key: ColumnElement[Any],
    *also: ColumnElement[bool],
) -> dict[Any, Figures]:
    scope = (
        Message.account_id == account_id,
        Message.campaign_sid.is_not(None),
        Message.date_created >= since,
        *also,
    )
    found: dict[Any, Figures] = {}
    delivered = func.sum(case((Message.status.in_(DELIVERED), 1), else_=0))
    for value, sent, done in await session.execute(
        select(key, func.count(), delivered).where(*scope).group_by(key)
    ):
        found[_key(value)] = Figures(sent, int(done or 0))
    for value, clicked in await session.execute(
        select(key, func.count(distinct(Click.message_id)))
        .select_from(Click)
        .join(Message, Message.id == Click.message_id)
        .where(*scope, Click.kind == "click")
        .group_by(key)
    ):
        found.setdefault(_key(value), Figures()).clicked = clicked
    for value, orders in await session.execute(
        select(key, func.count())
        .select_from(Order)
        .join(Message, Message.id == Order.message_id)
        .where(*scope)
        .group_by(key)
    ):
        found.setdefault(_key(value), Figures()).orders = orders
    return found


@dataclass(frozen=True)
class SegmentOptOuts:
    sid: str
    name: str
    messages: int
    opted_out: int


async def segment_opt_outs(
    session: AsyncSession, account_id: int, since: datetime
) -> list[SegmentOptOuts]:
    scope = (
        Message.account_id == account_id,
        Message.date_created >= since,
        Campaign.segment_sid.is_not(None),
    )
    messages = dict(
        (
            await session.execute(
                select(Campaign.segment_sid, func.count())
                .join(Message, Message.campaign_sid == Campaign.sid)
                .where(*scope)
                .group_by(Campaign.segment_sid)
            )
        ).all()
    )
    opted = dict(
        (
            await session.execute(
                select(Campaign.segment_sid, func.count(distinct(Message.recipient_index)))
                .join(Message, Message.campaign_sid == Campaign.sid)
                .join(
                    ConsentEvent,
                    (ConsentEvent.account_id == Message.account_id)
                    & (ConsentEvent.phone_index == Message.recipient_index),
                )
                .where(
                    *scope,
                    ConsentEvent.kind == "opted_out",
                    ConsentEvent.at >= Message.date_created,
                )
                .group_by(Campaign.segment_sid)
            )
        ).all()
    )
    names = dict(
        (
            await session.execute(
                select(Segment.sid, Segment.name).where(
                    Segment.account_id == account_id, Segment.sid.in_(list(messages))
                )
            )
        ).all()
    )
    return [
        SegmentOptOuts(sid, names.get(sid, sid), count, opted.get(sid, 0))
        for sid, count in messages.items()
    ]


def _hour_of_day(session: AsyncSession, column: Any) -> ColumnElement[int]:
    if session.bind.dialect.name == "postgresql":
        return cast(extract("hour", func.timezone("UTC", column)), Integer)
    return cast(func.strftime("%H", column), Integer)


def _key(value: Any) -> Any:
    return int(value) if isinstance(value, float) else value
