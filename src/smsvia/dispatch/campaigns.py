"""The loop that keeps launched campaigns fanning out (services/fanout.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from smsvia.services.fanout import Fanout

log = logging.getLogger(__name__)


@dataclass
class CampaignRunner:
    fanout: Fanout
    # How long to wait when no campaign has a batch ready: a launch, a send_at or an A/B
    # decision is noticed within this.
    idle: float = 1.0

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._loop(stop)
        finally:
            self.fanout.close()

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                busy = await self.fanout.advance()
            except Exception:
                log.exception("campaign fan-out failed; trying again")
                busy = False
            if busy:
                await asyncio.sleep(0)  # let the API and the worker in between batches
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.idle)
