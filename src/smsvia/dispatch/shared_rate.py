"""A connector's submit rate limit shared by every worker process on PostgreSQL.

Each worker runs its own SMPP bind, but the SMSC's contract (and the connector's `--tps`) is
for all of them together. Tokens are drawn from one bucket in the database (store/
rate_limits.py) a slice at a time, a tenth of a second's worth, so the database sees about
ten small updates a second per busy worker, however fast it sends; an idle worker draws
nothing, so a busy one gets the whole rate.
"""

from __future__ import annotations

import asyncio
import logging
import time

from smsvia.store import rate_limits
from smsvia.store.database import Database

log = logging.getLogger(__name__)

SLICE = 0.1  # seconds of the rate drawn at once


class SharedBucket:
    def __init__(self, db: Database, connector_id: int, rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._db = db
        self._connector_id = connector_id
        self.rate = rate
        self._slice = max(1, int(rate * SLICE))
        self._burst = max(float(self._slice), float(rate))
        self._tokens = 0
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while self._tokens == 0:
                wait = self._paused_until - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                self._tokens = await self._draw()
                if self._tokens == 0:
                    await asyncio.sleep(max(SLICE / 2, 1 / self.rate))
            self._tokens -= 1

    def pause(self, seconds: float) -> None:
        """The SMSC said we are too fast: this worker waits; what it holds is let go."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        self._tokens = 0

    async def _draw(self) -> int:
        try:
            async with self._db.transaction() as session:
                taken, _ = await rate_limits.take_tokens(
                    session,
                    f"connector:{self._connector_id}",
                    want=self._slice,
                    rate=self.rate,
                    burst=self._burst,
                )
                return taken
        except Exception:
            # The database is away: send at this worker's share of nothing rather than at
            # an unknown rate; the next draw tries again.
            log.exception("could not draw submit tokens for connector %d", self._connector_id)
            return 0
