"""Named queries for status callbacks.

-- claim_due_deliveries --  take up to N callbacks due now that no live lease holds
-- attempts_of --           every attempt made for one callback
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.leases import claim_due
from smsvia.store.models import WebhookAttempt, WebhookDelivery


async def claim_due_deliveries(
    session: AsyncSession, *, owner: str, now: datetime, lease_until: datetime, limit: int
) -> Sequence[WebhookDelivery]:
    return await claim_due(
        session, WebhookDelivery, owner=owner, now=now, lease_until=lease_until, limit=limit
    )


async def attempts_of(session: AsyncSession, delivery_id: int) -> Sequence[WebhookAttempt]:
    return (
        await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id)
        )
    ).all()
