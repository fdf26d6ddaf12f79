"""Engine and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from smsvia.store import sqlite_inline

# What a session runs once its transaction has committed (see `after_commit`).
_AFTER_COMMIT = "smsvia.after_commit"


class _Session(Session):
    """Our sessions: they run `after_commit` actions, and forget them on a rollback."""


@event.listens_for(_Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for action in session.info.pop(_AFTER_COMMIT, ()):
        action()


@event.listens_for(_Session, "after_rollback")
def _forget_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run `action` once the session's transaction commits; never if it rolls back.

    For work that must not start before the rows it needs are visible to everyone (a
    callback handed to the poster that its status change queued)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        options: dict[str, Any] = {}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            database = parsed.database or ":memory:"
            options["async_creator"] = lambda: sqlite_inline.connect(database)
        else:
            # No pre-ping: it costs a round trip on every checkout. A connection that died
            # (a PostgreSQL restart) fails its statement once; SQLAlchemy then drops the whole
            # pool, the API answers that request with a 500 and the worker retries its batch.
            options.update(pool_size=10, max_overflow=10)
            # Batches of every size (a group commit's 1 to 50 messages, their 1 to 200
            # timeline rows) are as many statements, each prepared once per connection: at
            # asyncpg's default of 100 they pushed each other out and were prepared again.
            if "prepared_statement_cache_size" not in parsed.query:
                options["connect_args"] = {"prepared_statement_cache_size": 1000}
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=_Session
        )
        # SQLite has one writer at a time and its busy handler is not fair: a transaction
        # polling for the lock can starve while others take it in turn. Within a process,
        # writers queue on this lock instead, first come, first served.
        self._writer: AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if self.is_sqlite else contextlib.nullcontext()
        )

    @asynccontextmanager
    async def transaction(self, *, batch: bool = False) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error.

        `batch`: the transaction works on a batch of queue rows at a time (the worker, the
        receipts). PostgreSQL then plans each statement for its actual arguments. A prepared
        statement otherwise keeps the generic plan made after its first five runs, and
        one made while a queue table was nearly empty scans the whole table for every
        batch once it is not (and SET LOCAL costs one round trip a batch).

        On SQLite its calls are made on the event loop's thread (store/sqlite_inline.py), and
        it takes the database's one write lock at once (BEGIN IMMEDIATE): left to sqlite3, the
        transaction would begin only at its first write, so what it read before could be
        changed by another process (the API beside a worker of its own) in between."""
        with sqlite_inline.calls_inline() if self.is_sqlite else contextlib.nullcontext():
            async with self._writer, self.sessions() as session, session.begin():
                if self.is_sqlite:
                    await sqlite_inline.begin_immediate(session)
                elif batch:
                    await session.execute(_CUSTOM_PLANS)
                yield session

    async def analyze(self, *tables: str) -> None:
        """Refresh PostgreSQL's statistics on tables a bulk load just grew.

        Without them, statements prepared while a table was nearly empty keep plans made for
        an empty table (a sequential scan per look-up), and a long import slows down as it
        goes; autovacuum would fix that only later, and only where it is on. ANALYZE also
        makes those cached plans be made again. SQLite needs nothing."""
        if self.is_sqlite:
            return
        async with self.engine.connect() as connection:
            for table in tables:
                await connection.execute(text(f'ANALYZE "{table}"'))
            await connection.commit()

    async def autovacuum(self) -> bool:
        """Whether PostgreSQL's autovacuum (and with it, autoanalyze) is on. SQLite: True,
        there is nothing to keep."""
        if self.is_sqlite:
            return True
        async with self.engine.connect() as connection:
            return (await connection.scalar(text("SHOW autovacuum"))) == "on"

    async def analyze_changed(self, tables: Sequence[str]) -> list[str]:
        """What autoanalyze would do, for a server where it is off: ANALYZE those of `tables`
        with more than 50 rows + 10% changed since their last ANALYZE (PostgreSQL's default
        thresholds). Returns the tables analyzed.

        A queue table that grows from empty keeps the plans made while it was empty (a
        sequential scan per look-up) until something analyzes it; without this, receipts
        on a fresh database slowed to a third of their pace within 30,000 messages."""
        if self.is_sqlite:
            return []
        async with self.engine.connect() as connection:
            changed = await connection.scalars(
                text(
                    "SELECT s.relname FROM pg_stat_user_tables s"
                    " JOIN pg_class c ON c.oid = s.relid"
                    " WHERE s.schemaname = current_schema() AND s.relname = ANY(:tables)"
                    " AND s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0)"
                ),
                {"tables": list(tables)},
            )
            stale = list(changed)
        if stale:
            await self.analyze(*stale)
        return stale

    async def close(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while the worker writes; NORMAL sync is durable at each checkpoint
    # and safe against corruption.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # No waiting for the lock here: see store/sqlite_inline.py.
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()
