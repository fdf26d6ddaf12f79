"""SQLite calls made on the event loop's own thread, with aiosqlite's thread for waiting.

aiosqlite runs every call (a cursor, an execute, a fetch, a commit) on a thread of its own
and hands the result back to the event loop: two thread switches a call, three or four
calls a statement. A statement on a small table takes SQLite a few microseconds; the
hand-offs cost about 70 µs of CPU apiece on a 2-core virtual machine (`select 1`: 144 µs
through aiosqlite, 1.7 µs through sqlite3), and they made every write transaction hold the
database's one writer lock that much longer.

So within a write transaction (`calls_inline`, set by `Database.transaction`: group commits
and the worker's batches, short statements on indexed rows) a call is made at once, on the
loop's thread, with SQLite's busy timeout at zero: it either has what it needs or says
"database is locked" straight away. Within one process writers already queue on
`Database`'s lock, so only another process (a CLI command, a second server) makes SQLite say
that; the call is then made again on aiosqlite's thread with the usual 30 s busy timeout,
and the event loop goes on meanwhile. A statement that SQLite refused as busy did nothing, so
making it again is safe. The write transaction's first statement, BEGIN IMMEDIATE (its lock
is taken before it reads, see `Database.transaction`), is the one that waits for another
process, and it waits on the loop in short steps (`begin_immediate`). Reads outside a
transaction (listings, reports, exports: they may take a while) keep to aiosqlite's thread,
so the event loop serves requests while SQLite reads.

`InlineConnection` overrides aiosqlite's `Connection._execute`, the one method every call of
aiosqlite goes through (aiosqlite 0.22); tests/integration/test_sqlite_calls.py shows if that
changes.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import aiosqlite
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

BUSY_TIMEOUT_MS = 30_000
_INLINE: ContextVar[bool] = ContextVar("smsvia_sqlite_inline", default=False)
# Set while `begin_immediate` waits on the loop: a busy call raises instead of waiting.
_RAISE_BUSY: ContextVar[bool] = ContextVar("smsvia_sqlite_raise_busy", default=False)
_BEGIN_IMMEDIATE = text("BEGIN IMMEDIATE")


@contextmanager
def calls_inline() -> Iterator[None]:
    """Meanwhile, in this task, SQLite calls are made on the event loop's thread."""
    token = _INLINE.set(True)
    try:
        yield
    finally:
        _INLINE.reset(token)


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection, its calls made inline (see the module doc)."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if _INLINE.get():
            if not self._running or not self._connection:
                raise ValueError("Connection closed")
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or _RAISE_BUSY.get():
                    raise
        return await super()._execute(self._on_the_thread, fn, args, kwargs)

    def _on_the_thread(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        """On aiosqlite's thread: make the call, waiting for the lock if it must."""
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
        self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            return fn(*args, **kwargs)
        finally:
            self._conn.execute("PRAGMA busy_timeout=0")


async def begin_immediate(session: AsyncSession) -> None:
    """Take the database's write lock for the transaction now (BEGIN IMMEDIATE), waiting
    for another process's on the event loop in steps of a few milliseconds: SQLite's own
    busy handler, on aiosqlite's thread, sleeps up to 100 ms a try and is not fair, which
    put a tail of 150 ms on the API's answers beside a worker of its own."""
    delay, deadline = 0.0005, time.monotonic() + BUSY_TIMEOUT_MS / 1000
    token = _RAISE_BUSY.set(True)
    try:
        while True:
            try:
                await session.execute(_BEGIN_IMMEDIATE)
                return
            except OperationalError as exc:
                busy = isinstance(exc.orig, sqlite3.OperationalError) and _is_busy(exc.orig)
                if not busy or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.004)
    finally:
        _RAISE_BUSY.reset(token)


async def connect(database: str) -> InlineConnection:
    """A connection to `database` whose calls are made inline under `calls_inline`; SQLite
    itself waits for no lock (`_on_the_thread` waits, when a call must)."""

    def connector() -> sqlite3.Connection:
        # The connection is used from the loop's thread and, when it must wait, from
        # aiosqlite's: one caller at a time (SQLAlchemy locks each connection).
        return sqlite3.connect(database, timeout=0, check_same_thread=False)

    return await InlineConnection(connector, iter_chunk_size=64)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    ) or "database is locked" in str(exc)
