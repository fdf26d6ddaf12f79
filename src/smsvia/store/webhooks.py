"""Named queries for status callbacks.

-- claim_due_deliveries --  take up to N callbacks due now that no live lease holds
-- attempts_of --           every attempt made for one callback
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.models import WebhookAttempt, WebhookDelivery


async def claim_due_deliveries(
    session: AsyncSession, *, owner: str, now: datetime, lease_until: datetime, limit: int
) -> Sequence[WebhookDelivery]:
    candidates = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.due_at <= now,
            or_(
                WebhookDelivery.lease_expires_at.is_(None),
                WebhookDelivery.lease_expires_at < now,
            ),
        )
        .order_by(WebhookDelivery.due_at, WebhookDelivery.id)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claimed = (
        await session.scalars(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(candidates.scalar_subquery()))
            .values(lease_owner=owner, lease_expires_at=lease_until)
            .returning(WebhookDelivery.id)
        )
    ).all()
    if not claimed:
        return []
    return (
        await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.id.in_(claimed))
            .order_by(WebhookDelivery.id)
            .execution_options(populate_existing=True)
        )
    ).all()


async def attempts_of(session: AsyncSession, delivery_id: int) -> Sequence[WebhookAttempt]:
    return (
        await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id)
        )
    ).all()
