"""Waking workers: PostgreSQL LISTEN/NOTIFY across processes, an asyncio.Event within one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.database import Database

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

    @property
    def uses_postgres(self) -> bool:
        return self._database is not None and not self._database.is_sqlite

    async def notify(self, session: AsyncSession) -> None:
        """Wake workers once the current transaction commits.

        Under load one NOTIFY per DEBOUNCE is enough: a worker that wakes claims
        everything due, and it claims again right after every batch that found work.
        """
        if self.uses_postgres:
            now = time.monotonic()
            if now - self._notified_at >= DEBOUNCE:
                self._notified_at = now
                # Delivered at commit, and never if the transaction rolls back.
                await session.execute(text(f"NOTIFY {CHANNEL}"))
        self._event.set()

    async def wait(self, timeout: float) -> None:
        """Return when notified or after `timeout` seconds, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()

    async def listen(self) -> None:
        """Start receiving other processes' notifications (PostgreSQL only)."""
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
