"""Claiming due rows with a lease: the one pattern behind the outbox and the callbacks queue.

A row is due when `due_at <= now` and no live lease holds it. On PostgreSQL the candidates
are locked with SKIP LOCKED, so concurrent workers never wait on each other nor take the
same row; on SQLite there is one writer at a time anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, or_, select, update
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
) -> Sequence[SqlRow[Any]]:
    """Lease up to `limit` due rows of `table` to `owner`, oldest due first, in one
    statement; returns the `returning` columns of the rows leased, by id."""
    candidates = _due(session, table, (table.c.id,), now, limit)
    leased = await session.execute(
        update(table)
        .where(table.c.id.in_(candidates.scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=lease_until)
        .returning(*returning)
    )
    return sorted(leased.all(), key=lambda row: row.id)


async def lock_due(
    session: AsyncSession, table: Table, *, now: datetime, limit: int
) -> Sequence[SqlRow[Any]]:
    """Up to `limit` due rows of `table` (every column), oldest due first, held for the
    caller to write their lease together with the rest of what it changes in them: one
    UPDATE a row, not a lease and then the change. By id.

    On PostgreSQL the rows stay locked until the transaction ends (SKIP LOCKED: others take
    the next ones). On SQLite the process's writers queue on one lock, and a writer in
    another process that commits first makes this transaction's UPDATE fail, not claim twice.
    """
    rows = await session.execute(_due(session, table, tuple(table.c), now, limit))
    return sorted(rows.all(), key=lambda row: row.id)


def _due(
    session: AsyncSession,
    table: Table,
    columns: Sequence[ColumnElement[Any]],
    now: datetime,
    limit: int,
) -> Select[Any]:
    candidates = (
        select(*columns)
        .where(
            table.c.due_at <= now,
            or_(table.c.lease_expires_at.is_(None), table.c.lease_expires_at < now),
        )
        .order_by(table.c.due_at, table.c.id)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    return candidates
