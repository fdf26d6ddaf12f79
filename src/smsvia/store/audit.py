"""Queries of the audit log: add an event, read an account's newest first, stream them all."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.audit_models import AuditEvent
from smsvia.store.database import Database


async def page_of_events(
    session: AsyncSession, account_id: int, *, before_id: int | None, limit: int
) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.account_id == account_id)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(await session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))


async def every_event(
    db: Database, account_id: int | None, *, batch: int = 1_000
) -> AsyncIterator[AuditEvent]:
    """Oldest first, a batch at a time; one account's, or the whole server's (None)."""
    after = 0
    while True:
        query = select(AuditEvent).where(AuditEvent.id > after)
        if account_id is not None:
            query = query.where(AuditEvent.account_id == account_id)
        async with db.sessions() as session:
            found = list(await session.scalars(query.order_by(AuditEvent.id).limit(batch)))
        for event in found:
            yield event
        if len(found) < batch:
            return
        after = found[-1].id
