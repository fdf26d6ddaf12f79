"""Named queries for the events RBM pushes to us.

-- add_event --              keep a pushed event; False when its event id is already kept
-- claim_unprocessed --      the oldest events not yet applied (SKIP LOCKED on PostgreSQL)
-- rcs_messages --           the messages events are about, by SID on their RCS connector,
                             locked in id order (as every other locker does: no deadlocks)
-- number_on_rcs_connector --  the sender that an RCS connector's users write to
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from smsvia.store.models import Message, Number, RcsEvent


async def add_event(
    session: AsyncSession, connector_id: int, event_id: str, payload: bytes, now: datetime
) -> bool:
    values = {"connector": connector_id, "event": event_id, "payload": payload, "now": now}
    # No row back: RBM pushed it again, and it is kept already.
    return (await session.scalar(_adding(session.bind.dialect.name), values)) is not None


@functools.cache
def _adding(dialect_name: str) -> ReturningInsert[Any]:
    """`add_event`'s INSERT … ON CONFLICT DO NOTHING, built once: building it and its cache
    key cost more than running it, on every push RBM makes."""
    events = RcsEvent.__table__
    insert = (postgresql if dialect_name == "postgresql" else sqlite).insert
    return (
        insert(events)
        .values(
            connector_id=bindparam("connector", type_=events.c.connector_id.type),
            event_id=bindparam("event", type_=events.c.event_id.type),
            payload=bindparam("payload", type_=events.c.payload.type),
            received_at=bindparam("now", type_=events.c.received_at.type),
        )
        .on_conflict_do_nothing(index_elements=[events.c.connector_id, events.c.event_id])
        .returning(events.c.id)
    )


async def claim_unprocessed(session: AsyncSession, limit: int) -> Sequence[RcsEvent]:
    query = (
        select(RcsEvent).where(RcsEvent.processed_at.is_(None)).order_by(RcsEvent.id).limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return (await session.scalars(query)).all()


async def rcs_messages(
    session: AsyncSession, keys: Collection[tuple[int, str]]
) -> dict[tuple[int, str], Message]:
    """By (RCS connector id, SID)."""
    if not keys:
        return {}
    query = select(Message).where(Message.sid.in_({sid for _, sid in keys})).order_by(Message.id)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    found = (await session.scalars(query)).all()
    return {(m.rcs_connector_id, m.sid): m for m in found if (m.rcs_connector_id, m.sid) in keys}


async def number_on_rcs_connector(session: AsyncSession, connector_id: int) -> Number | None:
    return await session.scalar(
        select(Number).where(Number.rcs_connector_id == connector_id).order_by(Number.id).limit(1)
    )
