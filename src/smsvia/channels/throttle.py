"""How fast a channel may submit: a token bucket in this process, or any `Throttle` (the
dispatch gives SMPP channels one shared by every worker on PostgreSQL, dispatch/shared_rate.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Throttle(Protocol):
    async def acquire(self) -> None:
        """Wait until one more submit may go."""

    def pause(self, seconds: float) -> None:
        """Take nothing for `seconds` (the SMSC said we are too fast)."""


class TokenBucket:
    """At most `rate` submits a second, in bursts of at most `burst`."""

    def __init__(
        self, rate: float, burst: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst or max(1, int(rate))
        self._clock = clock
        self._tokens = float(self.burst)
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def delay(self) -> float:
        """Seconds to wait before a token is free (0 when one is); takes it when free."""
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    def pause(self, seconds: float) -> None:
        """Take nothing for `seconds` (the SMSC said we are too fast)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._tokens = 0

    async def acquire(self) -> None:
        async with self._lock:
            while (wait := self.delay()) > 0:
                await asyncio.sleep(wait)
