"""Named queries for orders and what they are attributed to. Scoped by account.

-- order_by_order_id --        the shop's order, if already recorded (orders are idempotent)
-- last_click --               a number's newest click in a window
-- last_delivered_text --      its newest delivered campaign message in a window
-- page_of_orders --           newest first
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.models import Message
from smsvia.store.tracking_models import Click, Order

DELIVERED = ("delivered", "read")


async def order_by_order_id(session: AsyncSession, account_id: int, order_id: str) -> Order | None:
    return await session.scalar(
        select(Order).where(Order.account_id == account_id, Order.order_id == order_id)
    )


async def last_click(
    session: AsyncSession,
    account_id: int,
    phone_indexes: Collection[str],
    since: datetime,
    until: datetime,
) -> Click | None:
    return await session.scalar(
        select(Click)
        .where(
            Click.account_id == account_id,
            Click.phone_index.in_(list(phone_indexes)),
            Click.kind == "click",
            Click.at >= since,
            Click.at <= until,
        )
        .order_by(Click.at.desc(), Click.id.desc())
        .limit(1)
    )


async def last_delivered_text(
    session: AsyncSession,
    account_id: int,
    phone_indexes: Collection[str],
    since: datetime,
    until: datetime,
) -> tuple[int, str] | None:
    """(message id, campaign sid) of the newest campaign message delivered to the number
    in the window (its last update is when it was delivered, or read)."""
    row = (
        await session.execute(
            select(Message.id, Message.campaign_sid)
            .where(
                Message.account_id == account_id,
                Message.recipient_index.in_(list(phone_indexes)),
                Message.campaign_sid.is_not(None),
                Message.status.in_(DELIVERED),
                Message.date_updated >= since,
                Message.date_updated <= until,
            )
            .order_by(Message.date_updated.desc(), Message.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def page_of_orders(
    session: AsyncSession, account_id: int, *, before_id: int | None, limit: int
) -> Sequence[Order]:
    query = select(Order).where(Order.account_id == account_id)
    if before_id is not None:
        query = query.where(Order.id < before_id)
    return (await session.scalars(query.order_by(Order.id.desc()).limit(limit))).all()
