"""Named queries for campaign reports: a campaign's messages, clicks, orders and opt-outs
counted by variant and by the channel that carried the message — "rcs", "sms", "mms", or
"sms_fallback" (sent as SMS after RCS was tried) — and clicks and orders by hour.

-- message_counts --    messages, by variant, channel and status, with their cost
-- click_counts --      clicks (not previews) and messages clicked, by variant and channel
-- order_counts --      attributed orders and their revenue, by variant and channel
-- opt_out_counts --    recipients who opted out after the campaign texted them
-- clicks_by_hour --    clicks per hour (UTC)
-- orders_by_hour --    attributed orders and revenue per hour (UTC)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.marketing_models import ConsentEvent
from smsvia.store.models import Message
from smsvia.store.tracking_models import Click, Order
from smsvia.store.types import summed_money


def channel_of() -> ColumnElement[str]:
    """The channel a message counts under in reports."""
    return case(
        (Message.fallback_reason.is_not(None), "sms_fallback"),
        else_=Message.channel,
    )


@dataclass(frozen=True, slots=True)
class Count:
    """One group's figures: (variant, channel[, status]) and what was counted."""

    variant: str
    channel: str
    status: str
    count: int
    amount: Decimal  # cost of messages, revenue of orders; 0 otherwise
    distinct: int = 0  # messages clicked


async def message_counts(session: AsyncSession, campaign_sid: str) -> list[Count]:
    channel = channel_of()
    rows = await session.execute(
        select(
            Message.campaign_variant, channel, Message.status, func.count(), func.sum(Message.price)
        )
        .where(Message.campaign_sid == campaign_sid)
        .group_by(Message.campaign_variant, channel, Message.status)
    )
    return [Count(v or "", c, s, n, summed_money(a)) for v, c, s, n, a in rows]


async def click_counts(session: AsyncSession, campaign_sid: str) -> list[Count]:
    channel = channel_of()
    rows = await session.execute(
        select(
            Message.campaign_variant,
            channel,
            func.count(),
            func.count(distinct(Click.message_id)),
        )
        .select_from(Click)
        .join(Message, Message.id == Click.message_id)
        .where(Click.campaign_sid == campaign_sid, Click.kind == "click")
        .group_by(Message.campaign_variant, channel)
    )
    return [Count(v or "", c, "", n, Decimal(0), d) for v, c, n, d in rows]


async def order_counts(session: AsyncSession, campaign_sid: str) -> list[Count]:
    channel = channel_of()
    rows = await session.execute(
        select(Message.campaign_variant, channel, func.count(), func.sum(Order.total))
        .select_from(Order)
        .join(Message, Message.id == Order.message_id)
        .where(Order.campaign_sid == campaign_sid)
        .group_by(Message.campaign_variant, channel)
    )
    return [Count(v or "", c, "", n, summed_money(a)) for v, c, n, a in rows]


async def opt_out_counts(session: AsyncSession, campaign_sid: str) -> list[Count]:
    channel = channel_of()
    rows = await session.execute(
        select(Message.campaign_variant, channel, func.count(distinct(Message.id)))
        .join(
            ConsentEvent,
            (ConsentEvent.account_id == Message.account_id)
            & (ConsentEvent.phone_index == Message.recipient_index),
        )
        .where(
            Message.campaign_sid == campaign_sid,
            ConsentEvent.kind == "opted_out",
            ConsentEvent.at >= Message.date_created,
        )
        .group_by(Message.campaign_variant, channel)
    )
    return [Count(v or "", c, "", n, Decimal(0)) for v, c, n in rows]


async def clicks_by_hour(session: AsyncSession, campaign_sid: str) -> dict[datetime, int]:
    hour = _hour(session, Click.at)
    rows = await session.execute(
        select(hour, func.count())
        .where(Click.campaign_sid == campaign_sid, Click.kind == "click")
        .group_by(hour)
    )
    return {_moment(at): n for at, n in rows}


async def orders_by_hour(
    session: AsyncSession, campaign_sid: str
) -> dict[datetime, tuple[int, Decimal]]:
    hour = _hour(session, Order.created_at)
    rows = await session.execute(
        select(hour, func.count(), func.sum(Order.total))
        .where(Order.campaign_sid == campaign_sid)
        .group_by(hour)
    )
    return {_moment(at): (n, summed_money(total)) for at, n, total in rows}


def _hour(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    if session.bind.dialect.name == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", column))
    return func.strftime("%Y-%m-%d %H:00:00", column)


def _moment(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
