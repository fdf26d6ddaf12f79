"""Waking workers: an asyncio.Event within a process; across processes PostgreSQL's
LISTEN/NOTIFY, and on SQLite a datagram to the worker's socket (Linux)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.database import Database, after_commit

CHANNEL = "smsvia_outbox"
DEBOUNCE = 0.02  # seconds
log = logging.getLogger(__name__)


class OutboxSignal:
    """`notify` inside the transaction that made work due; `wait` in the worker."""

    def __init__(self, database: Database | None) -> None:
        self._database = database
        self._event = asyncio.Event()
        self._listener: Any = None
        self._notified_at = float("-inf")
        self._wake = _SqliteWake.of(database)

    @property
    def uses_postgres(self) -> bool:
        return self._database is not None and not self._database.is_sqlite

    async def notify(self, session: AsyncSession) -> None:
        """Wake workers once the current transaction commits.

        Under load one NOTIFY per DEBOUNCE is enough: a worker that wakes claims
        everything due, and it claims again right after every batch that found work.
        """
        if self.uses_postgres or self._wake is not None:
            now = time.monotonic()
            if now - self._notified_at >= DEBOUNCE:
                self._notified_at = now
                if self._wake is not None:
                    self._wake.at_commit(session)
                else:
                    # Delivered at commit, and never if the transaction rolls back.
                    await session.execute(text(f"NOTIFY {CHANNEL}"))
        self._event.set()

    async def wait(self, timeout: float) -> None:
        """Return when notified or after `timeout` seconds, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()

    async def listen(self) -> None:
        """Start receiving other processes' notifications."""
        if self._wake is not None:
            self._wake.listen(self._event.set)
        if not self.uses_postgres or self._listener is not None:
            return
        import asyncpg

        assert self._database is not None
        url = self._database.engine.url.set(drivername="postgresql")
        self._listener = await asyncpg.connect(url.render_as_string(hide_password=False))
        await self._listener.add_listener(CHANNEL, lambda *_: self._event.set())

    async def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
        if self._wake is not None:
            self._wake.close()


class _SqliteWake:
    """The API and a worker in processes of their own on one SQLite file: a datagram to an
    abstract Unix socket named after the file, sent once the transaction that made work due
    has committed (sent before, it could wake the worker to find nothing). Nobody
    listening, the datagram is dropped; the worker's poll still finds the work."""

    def __init__(self, path: str) -> None:
        digest = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:32]
        self.address = f"\0smsvia-outbox-{digest}"
        self._sender: socket.socket | None = None
        self._receiver: socket.socket | None = None

    @classmethod
    def of(cls, database: Database | None) -> _SqliteWake | None:
        if database is None or not database.is_sqlite or sys.platform != "linux":
            return None  # abstract socket names are Linux's
        path = make_url(database.url).database
        return cls(path) if path and path != ":memory:" else None

    def at_commit(self, session: AsyncSession) -> None:
        after_commit(session, self._send)

    def listen(self, wake: Callable[[], None]) -> None:
        if self._receiver is not None:
            return
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        receiver.setblocking(False)
        try:
            receiver.bind(self.address)
        except OSError as exc:
            receiver.close()
            log.warning("not woken by other processes (%s); polling for work instead", exc)
            return
        self._receiver = receiver
        asyncio.get_running_loop().add_reader(receiver.fileno(), self._drain, wake)

    def close(self) -> None:
        if self._receiver is not None:
            with contextlib.suppress(RuntimeError):  # the loop that read it may be gone
                asyncio.get_running_loop().remove_reader(self._receiver.fileno())
            self._receiver.close()
        if self._sender is not None:
            self._sender.close()
        self._sender = self._receiver = None

    def _send(self) -> None:
        if self._sender is None:
            self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sender.setblocking(False)
        # Nobody listening, or its queue full (it is awake then): the poll covers it.
        with contextlib.suppress(OSError):
            self._sender.sendto(b"!", self.address)

    def _drain(self, wake: Callable[[], None]) -> None:
        assert self._receiver is not None
        with contextlib.suppress(BlockingIOError):
            while self._receiver.recv(64):
                pass
        wake()
