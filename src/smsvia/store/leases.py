"""Claiming due rows with a lease: the one pattern behind the outbox and the callbacks queue.

A row is due when `due_at <= now` and no live lease holds it. On PostgreSQL the candidates
are locked with SKIP LOCKED, so concurrent workers never wait on each other nor take the
same row; on SQLite there is one writer at a time anyway.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, Table, bindparam, or_, select, update
from sqlalchemy import Row as SqlRow
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate


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
    statement = _kept(session.bind.dialect, table, tuple(returning))
    values = {"now": now, "limit": limit, "owner": owner, "until": lease_until}
    leased = await session.execute(statement, values)
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
    statement = _due(session.bind.dialect, table, tuple(table.c))
    rows = await session.execute(statement, {"now": now, "limit": limit})
    return sorted(rows.all(), key=lambda row: row.id)


# Both statements are built once for a table (and dialect): building one and its cache key
# cost more than running it. `now`, `limit`, `owner` and `until` come as parameters.


@functools.lru_cache(maxsize=64)
def _kept(
    dialect: Dialect, table: Table, returning: tuple[ColumnElement[Any], ...]
) -> ReturningUpdate[Any]:
    candidates = _due(dialect, table, (table.c.id,))
    return (
        update(table)
        .where(table.c.id.in_(candidates.scalar_subquery()))
        .values(
            lease_owner=bindparam("owner", type_=table.c.lease_owner.type),
            lease_expires_at=bindparam("until", type_=table.c.lease_expires_at.type),
        )
        .returning(*returning)
    )


@functools.lru_cache(maxsize=64)
def _due(dialect: Dialect, table: Table, columns: tuple[ColumnElement[Any], ...]) -> Select[Any]:
    now = bindparam("now", type_=table.c.due_at.type)
    candidates = (
        select(*columns)
        .where(
            table.c.due_at <= now,
            or_(table.c.lease_expires_at.is_(None), table.c.lease_expires_at < now),
        )
        .order_by(table.c.due_at, table.c.id)
        .limit(bindparam("limit", type_=Integer()))
    )
    if dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    return candidates
