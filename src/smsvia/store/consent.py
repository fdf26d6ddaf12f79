"""Named queries for the consent ledger.

-- lock_ledger --       serialize appends to one account's chain (an advisory lock on
                       PostgreSQL; SQLite has one writer anyway)
-- last_hash --         the newest entry's hash in the account's chain
-- standings --         for each number, the newest entry that opted it in or out, and
                       whether express consent was ever given
-- newest --            one number's newest entry among some kinds
-- ledger --            an account's entries, oldest first (verify, export)
-- accounts_with_ledger --  the accounts that have any entry
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Select, bindparam, case, func, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.crypto import Indexes
from smsvia.store.marketing_models import ConsentEvent
from smsvia.store.rows import among_given

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


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a number stands: its newest deciding entry and whether express consent exists."""

    entry_id: int
    kind: str
    at: datetime
    express_given: bool


async def standings(
    session: AsyncSession,
    account_id: int,
    phones: Indexes,
    deciding: Collection[str],
    express: Collection[str],
) -> dict[str, Standing]:
    """phone index -> its standing, for the numbers that have any deciding entry (one query).
    During a key rotation a number's entries may sit under two indexes: the newest wins."""
    if not phones.canonical:
        return {}
    statement = _standings(session.bind.dialect, tuple(sorted(deciding)), tuple(sorted(express)))
    rows = await session.execute(statement, {"account": account_id, "phones": list(phones.all)})
    found: dict[str, Standing] = {}
    for stored, entry_id, kind, at, express in rows:
        index = phones.canonical[stored]
        other = found.get(index)
        given = express is not None or (other is not None and other.express_given)
        if other is None or entry_id > other.entry_id:
            found[index] = Standing(entry_id, kind, at, given)
        else:
            found[index] = replace(other, express_given=given)
    return found


async def newest(
    session: AsyncSession, account_id: int, phone_indexes: Collection[str], kinds: Collection[str]
) -> ConsentEvent | None:
    return await session.scalar(
        select(ConsentEvent)
        .where(
            ConsentEvent.account_id == account_id,
            ConsentEvent.phone_index.in_(list(phone_indexes)),
            ConsentEvent.kind.in_(list(kinds)),
        )
        .order_by(ConsentEvent.id.desc())
        .limit(1)
    )


async def ledger(
    session: AsyncSession, account_id: int, *, phone_indexes: Collection[str] | None = None
) -> Sequence[ConsentEvent]:
    query = select(ConsentEvent).where(ConsentEvent.account_id == account_id)
    if phone_indexes is not None:
        query = query.where(ConsentEvent.phone_index.in_(list(phone_indexes)))
    return (await session.scalars(query.order_by(ConsentEvent.id))).all()


async def accounts_with_ledger(session: AsyncSession) -> Sequence[int]:
    return (await session.scalars(select(ConsentEvent.account_id).distinct())).all()


@functools.lru_cache(maxsize=16)
def _standings(dialect: Dialect, deciding: tuple[str, ...], express: tuple[str, ...]) -> Select:
    """`standings`' query, built once: building it and its cache key took ~400 µs, more than
    running it, on every batch of sends."""
    grouped = (
        select(
            ConsentEvent.phone_index,
            func.max(ConsentEvent.id).label("newest"),
            func.max(case((ConsentEvent.kind.in_(express), ConsentEvent.id))).label("express"),
        )
        .where(
            ConsentEvent.account_id == bindparam("account"),
            among_given(dialect, ConsentEvent.phone_index, "phones"),
            ConsentEvent.kind.in_(deciding),
        )
        .group_by(ConsentEvent.phone_index)
        .subquery()
    )
    return select(
        ConsentEvent.phone_index,
        ConsentEvent.id,
        ConsentEvent.kind,
        ConsentEvent.at,
        grouped.c.express,
    ).join(grouped, ConsentEvent.id == grouped.c.newest)
