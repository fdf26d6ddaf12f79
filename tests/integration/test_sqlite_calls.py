"""SQLite's calls: write transactions on the event loop's thread, reads and waits for
another process's lock on aiosqlite's (store/sqlite_inline.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

from sqlalchemy import text

from smsvia.store.database import Database

HOLD_SECONDS = 1.0


def _database(tmp_path) -> Database:
    return Database(f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}")


async def _threads_seen(session) -> set[int]:
    """The threads SQLite ran a statement on: a function of ours, called in SQL."""
    seen: set[int] = set()

    def thread_of_call() -> int:
        seen.add(threading.get_ident())
        return 1

    raw = await (await session.connection()).get_raw_connection()
    await raw.driver_connection.create_function("thread_of_call", 0, thread_of_call)
    await session.execute(text("SELECT thread_of_call()"))
    return seen


def test_write_transactions_run_on_the_loop_thread_and_reads_on_aiosqlites(tmp_path):
    async def scenario():
        database = _database(tmp_path)
        try:
            async with database.transaction() as session:
                in_transaction = await _threads_seen(session)
            async with database.sessions() as session:
                reading = await _threads_seen(session)
        finally:
            await database.close()
        assert in_transaction == {threading.get_ident()}
        assert reading and threading.get_ident() not in reading

    asyncio.run(scenario())


def test_a_write_waits_for_another_process_lock_while_the_loop_goes_on(tmp_path):
    """Another process holds the write lock for a second: the transaction waits for it (on
    aiosqlite's thread) and commits; the event loop keeps turning meanwhile."""
    path = tmp_path / "calls.db"

    async def scenario():
        database = _database(tmp_path)
        try:
            async with database.transaction() as session:
                await session.execute(text("CREATE TABLE orders (id INTEGER PRIMARY KEY)"))
            holder = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sqlite3, sys, time\n"
                    f"c = sqlite3.connect({str(path)!r})\n"
                    "c.execute('BEGIN IMMEDIATE')\n"
                    "c.execute('INSERT INTO orders (id) VALUES (1)')\n"
                    "print('locked', flush=True)\n"
                    f"time.sleep({HOLD_SECONDS})\n"
                    "c.commit()\n",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                assert holder.stdout.readline().strip() == "locked"
                ticks = 0

                async def tick() -> None:
                    nonlocal ticks
                    while True:
                        await asyncio.sleep(0.01)
                        ticks += 1

                ticker = asyncio.create_task(tick())
                started = time.monotonic()
                async with database.transaction() as session:
                    await session.execute(text("INSERT INTO orders (id) VALUES (2)"))
                waited = time.monotonic() - started
                ticker.cancel()
            finally:
                assert holder.wait(10) == 0
            async with database.sessions() as session:
                stored = list(await session.scalars(text("SELECT id FROM orders ORDER BY id")))
        finally:
            await database.close()
        assert stored == [1, 2]
        assert waited >= HOLD_SECONDS / 2  # it did wait for the other process
        assert ticks >= 10  # and the loop was not held up while it waited

    asyncio.run(scenario())


def test_a_write_transaction_holds_the_write_lock_from_its_first_read(tmp_path):
    """What a write transaction reads, no other process can change before it commits: the
    lock is taken at BEGIN, not at its first write (where sqlite3 would take it), so a
    read-then-write (a cancel, a claim) never writes over another process's change."""
    path = tmp_path / "calls.db"

    async def scenario():
        database = _database(tmp_path)
        try:
            async with database.transaction() as session:
                await session.execute(text("CREATE TABLE orders (id INTEGER PRIMARY KEY)"))
            async with database.transaction() as session:
                await session.execute(text("SELECT count(*) FROM orders"))  # a read, no write
                other = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        "import sqlite3\n"
                        f"c = sqlite3.connect({str(path)!r}, timeout=0)\n"
                        "try:\n"
                        "    c.execute('INSERT INTO orders (id) VALUES (1)')\n"
                        "    c.commit()\n"
                        "    print('written')\n"
                        "except sqlite3.OperationalError as exc:\n"
                        "    print(exc)\n",
                    ],
                    capture_output=True,
                    text=True,
                    timeout=30,
                )
                assert other.stdout.strip() == "database is locked", other
        finally:
            await database.close()

    asyncio.run(scenario())
