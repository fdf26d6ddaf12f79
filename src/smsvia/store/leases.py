"""Claiming due rows with a lease: the one pattern behind the outbox and the callbacks queue.

A row is due when `due_at <= now` and no live lease holds it. On PostgreSQL the candidates
are locked with SKIP LOCKED, so concurrent workers never wait on each other nor take the
same row; on SQLite there is one writer at a time anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, or_, select, update
from sqlalchemy import Row as SqlRow
from sqlalchemy.ext.asyncio import AsyncSession


async def lease_due(
    session: AsyncSession,
    table: Table,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    returning: Sequence[ColumnElement[Any]],
    also_set: dict[str, Any] | None = None,
) -> Sequence[SqlRow[Any]]:
    """Lease up to `limit` due rows of `table` to `owner`, oldest due first, in one
    statement; returns the `returning` columns of the rows leased, by id."""
    candidates = (
        select(table.c.id)
        .where(
            table.c.due_at <= now,
            or_(table.c.lease_expires_at.is_(None), table.c.lease_expires_at < now),
        )
        .order_by(table.c.due_at, table.c.id)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    leased = await session.execute(
        update(table)
        .where(table.c.id.in_(candidates.scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=lease_until, **(also_set or {}))
        .returning(*returning)
    )
    return sorted(leased.all(), key=lambda row: row.id)
