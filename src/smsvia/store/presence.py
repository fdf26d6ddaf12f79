"""Which workers are alive: how a dead worker's claims are taken over at once, never a live one's.

A lease alone cannot tell a dead worker from a slow one, so a claim would wait out its whole
lease after a crash. Each worker therefore proves it is alive by holding a lock for as long as
its process lives, and the operating system or the database drops the lock with the process:

* PostgreSQL: a session advisory lock on a connection of its own, keyed by a token in the
  worker's name; `pg_locks` lists the tokens whose worker lives.
* SQLite: an exclusive `flock` on a file of its own in a folder beside the database; a lock
  another worker can take is one whose holder is gone. SQLite takes one worker at a time
  (`WorkerSlot`): a second one is refused while the first lives.

Owners named without a token (an older smsvia) are never declared dead: their claims wait for
their leases, as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import socket
from collections.abc import Collection
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from smsvia.store.database import Database

log = logging.getLogger(__name__)

# The first key of our advisory locks: "smsv".
_NAMESPACE = 0x736D7376
_TOKEN_DIGITS = 8


class AnotherWorker(RuntimeError):
    """A worker already runs on this SQLite database."""


def new_owner() -> str:
    """A worker's name in leases: host, process and a token that keys its presence lock."""
    token = secrets.randbelow(0x7FFFFFFF) + 1
    return f"{socket.gethostname()}:{os.getpid()}:{token:0{_TOKEN_DIGITS}x}"


def token_of(owner: str) -> int | None:
    """The presence token in an owner's name; None for a name without one."""
    _, _, tail = owner.rpartition(":")
    if len(tail) != _TOKEN_DIGITS:
        return None
    try:
        return int(tail, 16)
    except ValueError:
        return None


class Presence:
    """This worker's proof of life, and the test of others'."""

    def __init__(self, database: Database, owner: str) -> None:
        self.database = database
        self.owner = owner
        self._connection: Any = None  # PostgreSQL: the session holding our lock
        self._file: int | None = None  # SQLite: our locked file's descriptor

    async def announce(self) -> None:
        """Take our lock; held until `close` or the end of the process."""
        token = token_of(self.owner)
        if token is None:
            return
        if self.database.is_sqlite:
            self._lock_file(token)
            return
        import asyncpg

        url = self.database.engine.url.set(drivername="postgresql")
        self._connection = await asyncpg.connect(url.render_as_string(hide_password=False))
        taken = await self._connection.fetchval(
            "SELECT pg_try_advisory_lock($1, $2)", _NAMESPACE, token
        )
        if not taken:  # another live worker drew the same token: we just look alive twice
            log.warning("presence token of %s is taken; its claims wait for leases", self.owner)

    async def dead(self, owners: Collection[str]) -> set[str]:
        """Those of `owners` known to be gone (never this worker, never one that may live)."""
        others = [owner for owner in owners if owner != self.owner]
        if not others:
            return set()
        if self.database.is_sqlite:
            return {o for o in others if (t := token_of(o)) is not None and self._gone(t)}
        if self._connection is None:
            return set()
        if self._connection.is_closed():
            # Without our own lock we cannot tell; the others may think us dead, but our
            # part intents are fenced by the lease owner, so nothing goes out twice.
            return set()
        rows = await self._connection.fetch(
            "SELECT objid::bigint AS token FROM pg_locks WHERE locktype = 'advisory'"
            " AND classid = $1::oid AND objsubid = 2 AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            _NAMESPACE,
        )
        alive = {row["token"] for row in rows}
        return {o for o in others if (token := token_of(o)) is not None and token not in alive}

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
        if self._file is not None:
            os.close(self._file)  # releases the flock
            self._file = None

    def _folder(self) -> Path | None:
        return _folder(self.database)

    def _lock_file(self, token: int) -> None:
        folder = self._folder()
        if folder is None:
            return
        folder.mkdir(mode=0o700, exist_ok=True)
        descriptor = os.open(folder / f"{token:08x}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._file = descriptor

    def _gone(self, token: int) -> bool:
        """Whether the worker with this token is gone: its lock file is missing, or free."""
        folder = self._folder()
        if folder is None or self._file is None:
            return False  # we hold no lock ourselves: we cannot tell
        path = folder / f"{token:08x}.lock"
        try:
            descriptor = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return True
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # held: alive
        finally:
            os.close(descriptor)
        path.unlink(missing_ok=True)
        return True


class WorkerSlot:
    """SQLite's one worker: an exclusive `flock` on `worker.lock` in the workers' folder,
    held while the worker lives (its rate limits are its process's own, and it alone claims).
    PostgreSQL takes any number of workers: there the slot is always free."""

    def __init__(self, database: Database, owner: str) -> None:
        self.database = database
        self.owner = owner
        self._file: int | None = None

    def take(self) -> None:
        """Raises AnotherWorker while another worker holds it."""
        folder = _folder(self.database) if self.database.is_sqlite else None
        if folder is None:
            return
        folder.mkdir(mode=0o700, exist_ok=True)
        descriptor = os.open(folder / "worker.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 200).decode(errors="replace").strip() or "unknown"
            os.close(descriptor)
            raise AnotherWorker(
                f"a worker already runs on this SQLite database ({holder}); SQLite takes one: "
                "run `smsvia serve` alone, or `smsvia serve --no-worker` and one `smsvia worker`"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, self.owner.encode(), 0)
        self._file = descriptor

    def release(self) -> None:
        if self._file is not None:
            os.close(self._file)  # releases the flock
            self._file = None


def _folder(database: Database) -> Path | None:
    """The folder beside an SQLite database where workers keep their locks."""
    path = make_url(database.url).database
    if not path or path == ":memory:":
        return None
    return Path(f"{path}.workers")
