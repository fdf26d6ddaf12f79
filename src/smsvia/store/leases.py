"""Claiming due rows with a lease: the one pattern behind the outbox and the callbacks queue.

A row is due when `due_at <= now` and no live lease holds it. On PostgreSQL the candidates
are locked with SKIP LOCKED, so concurrent workers never wait on each other nor take the
same row; on SQLite there is one writer at a time anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

Row = TypeVar("Row")


async def claim_due(
    session: AsyncSession,
    model: type[Row],
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    also_set: dict[str, Any] | None = None,
) -> Sequence[Row]:
    """Lease up to `limit` due rows of `model` to `owner`, oldest due first."""
    table: Any = model
    candidates = (
        select(table.id)
        .where(
            table.due_at <= now,
            or_(table.lease_expires_at.is_(None), table.lease_expires_at < now),
        )
        .order_by(table.due_at, table.id)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claimed = (
        await session.scalars(
            update(table)
            .where(table.id.in_(candidates.scalar_subquery()))
            .values(lease_owner=owner, lease_expires_at=lease_until, **(also_set or {}))
            .returning(table.id)
        )
    ).all()
    if not claimed:
        return []
    return (
        await session.scalars(
            select(table)
            .where(table.id.in_(claimed))
            .order_by(table.id)
            .execution_options(populate_existing=True)
        )
    ).all()
