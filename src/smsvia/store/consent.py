"""Named queries for the consent ledger.

-- lock_ledger --       serialize appends to one account's chain (an advisory lock on
                       PostgreSQL; SQLite has one writer anyway)
-- last_hash --         the newest entry's hash in the account's chain
-- decisions --         for each number, the newest entry that opted it in or out
-- ledger --            an account's entries, oldest first (verify, export)
-- accounts_with_ledger --  the accounts that have any entry
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.models import ConsentEvent

_LEDGER_LOCK = 7_206_117_002


async def lock_ledger(session: AsyncSession, account_id: int) -> None:
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :account)"),
            {"space": _LEDGER_LOCK % 2**31, "account": account_id},
        )


async def last_hash(session: AsyncSession, account_id: int) -> str | None:
    return await session.scalar(
        select(ConsentEvent.hash)
        .where(ConsentEvent.account_id == account_id)
        .order_by(ConsentEvent.id.desc())
        .limit(1)
    )


async def decisions(
    session: AsyncSession, account_id: int, phone_indexes: Collection[str], kinds: Collection[str]
) -> dict[str, str]:
    """phone index -> the kind of its newest entry among `kinds`."""
    if not phone_indexes:
        return {}
    newest = (
        select(ConsentEvent.phone_index, func.max(ConsentEvent.id).label("id"))
        .where(
            ConsentEvent.account_id == account_id,
            ConsentEvent.phone_index.in_(list(phone_indexes)),
            ConsentEvent.kind.in_(list(kinds)),
        )
        .group_by(ConsentEvent.phone_index)
        .subquery()
    )
    rows = await session.execute(
        select(ConsentEvent.phone_index, ConsentEvent.kind).join(
            newest, ConsentEvent.id == newest.c.id
        )
    )
    return {index: kind for index, kind in rows}


async def ledger(
    session: AsyncSession, account_id: int, *, phone_index: str | None = None
) -> Sequence[ConsentEvent]:
    query = select(ConsentEvent).where(ConsentEvent.account_id == account_id)
    if phone_index is not None:
        query = query.where(ConsentEvent.phone_index == phone_index)
    return (await session.scalars(query.order_by(ConsentEvent.id))).all()


async def accounts_with_ledger(session: AsyncSession) -> Sequence[int]:
    return (await session.scalars(select(ConsentEvent.account_id).distinct())).all()
