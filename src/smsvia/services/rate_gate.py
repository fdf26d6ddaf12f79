"""Rate limits by name, one limit for every server process: API credentials, opt-in forms.

`RateGate.admit(name, rate, burst)` answers 0 when a request may go on, else the seconds to
wait before one would. On PostgreSQL the tokens live in the database (store/rate_limits.py)
and each process takes a slice of them at a time, a tenth of a second's worth, so a busy
credential costs a process about ten small updates a second however fast it calls; tokens
a process took and did not use within half a second are dropped, never saved up. Once the
database says a bucket is empty, the process refuses that name by itself until it would
have refilled: a flood of refused requests costs the database nothing. On SQLite the one
server process keeps its buckets in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from smsvia.store import rate_limits
from smsvia.store.database import Database

log = logging.getLogger(__name__)

SLICE = 0.1  # seconds of a rate taken from the shared bucket at once
HOLD = 0.5  # seconds a process may keep tokens it took and has not used
MAX_NAMES = 10_000  # buckets remembered in memory before idle ones are forgotten


@dataclass(slots=True)
class _Local:
    tokens: float = 0.0  # in hand (shared) or in the bucket (memory)
    stamp: float = 0.0  # when they were taken (shared) or last refilled (memory)
    empty_until: float = 0.0  # shared: refused without asking until then


class RateGate:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._shared = not db.is_sqlite
        self._clock = clock
        self._names: dict[str, _Local] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def admit(self, name: str, rate: float, burst: float) -> float:
        """0 when one request under `name` may go on (and it is counted), else the
        seconds until one would be admitted (and nothing is counted)."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        burst = max(1.0, burst)
        now = self._clock()
        local = self._names.get(name)
        if local is None:
            if len(self._names) >= MAX_NAMES:
                self._forget(now)
            local = self._names[name] = _Local(tokens=0.0 if self._shared else burst, stamp=now)
        if not self._shared:
            return _from_memory(local, now, rate, burst)
        if local.tokens >= 1 and now - local.stamp < HOLD:
            local.tokens -= 1
            return 0.0
        if now < local.empty_until:
            return local.empty_until - now
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:  # one draw at a time per name; the others then use its slice
            now = self._clock()
            if local.tokens >= 1 and now - local.stamp < HOLD:
                local.tokens -= 1
                return 0.0
            if now < local.empty_until:
                return local.empty_until - now
            taken, left = await self._draw(name, rate, burst)
            now = self._clock()
            if taken == 0:
                local.tokens = 0.0
                local.empty_until = now + max(0.0, 1.0 - left) / rate
                return max(local.empty_until - now, 1e-3)
            local.tokens, local.stamp = taken - 1.0, now
            return 0.0

    async def _draw(self, name: str, rate: float, burst: float) -> tuple[int, float]:
        want = max(1, int(rate * SLICE))
        try:
            async with self._db.transaction() as session:
                return await rate_limits.take_tokens(
                    session, name, want=want, rate=rate, burst=burst
                )
        except Exception:
            # The database is away: the request itself will find out; a limit that cannot
            # be counted does not refuse it.
            log.exception("could not draw tokens for rate limit %s", name)
            return 1, 0.0

    def _forget(self, now: float) -> None:
        for name, local in list(self._names.items()):
            if now - local.stamp > 60 and now >= local.empty_until:
                del self._names[name]
                self._locks.pop(name, None)


def _from_memory(local: _Local, now: float, rate: float, burst: float) -> float:
    """A plain token bucket, for the one process that serves on SQLite."""
    local.tokens = min(burst, local.tokens + (now - local.stamp) * rate)
    local.stamp = now
    if local.tokens >= 1:
        local.tokens -= 1
        return 0.0
    return (1.0 - local.tokens) / rate
