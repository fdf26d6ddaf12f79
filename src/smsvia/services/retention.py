"""Retention: what is kept only for a while, pruned a batch at a time.

Settings (days; 0 keeps for ever): `SMSVIA_RETAIN_RECEIPTS_DAYS` (the receipt inbox, and the
RBM events webhook's store), `SMSVIA_RETAIN_TIMELINE_DAYS` (timeline entries of messages whose
status is final) and `SMSVIA_RETAIN_WEBHOOKS_DAYS` (finished status callbacks and their
attempts). What every guarantee rests on stays: a receipt still waiting for its part, a
callback still to be made, a message's own row and status, the consent ledger and the audit
log are never pruned; a receipt repeated after its first was pruned changes nothing (a
final part takes no second verdict); and RBM's pushes are kept at least 8 days whatever the
setting, since RBM retries one for up to 7 and a repeat must still be known as one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.services.clock import Clock, utcnow
from smsvia.store import rate_limits, retention
from smsvia.store.context import Store

RBM_RETRIES_FOR = timedelta(days=8)  # RBM retries a push for up to 7 days
IDLE_BUCKETS = timedelta(days=1)  # a rate bucket untouched this long is full again anyway
BATCH = 5_000  # rows deleted per transaction


@dataclass(frozen=True, slots=True)
class Retention:
    receipts_days: int = 30
    timeline_days: int = 0
    webhooks_days: int = 30


Pruner = Callable[[AsyncSession, datetime, int], Awaitable[int]]


async def prune(
    store: Store, keep: Retention, *, clock: Clock = utcnow, batch: int = BATCH
) -> dict[str, int]:
    """Prune what is past its time; how many rows of each kind went."""
    now = clock()
    plan: list[tuple[str, Pruner, timedelta]] = [("rate buckets", _idle_buckets, IDLE_BUCKETS)]
    if keep.receipts_days > 0:
        kept = timedelta(days=keep.receipts_days)
        plan.append(("receipts", retention.applied_receipts, kept))
        plan.append(("rcs events", retention.processed_rcs_events, max(kept, RBM_RETRIES_FOR)))
    if keep.timeline_days > 0:
        plan.append(("timeline", retention.final_timelines, timedelta(days=keep.timeline_days)))
    if keep.webhooks_days > 0:
        kept = timedelta(days=keep.webhooks_days)
        plan.append(("webhooks", retention.finished_webhooks, kept))
    pruned: dict[str, int] = {}
    for name, pruner, kept in plan:
        pruned[name] = 0
        while True:
            async with store.db.transaction() as session:
                gone = await pruner(session, now - kept, batch)
            pruned[name] += gone
            if gone < batch:
                break
    return pruned


async def _idle_buckets(session: AsyncSession, before: datetime, _limit: int) -> int:
    return await rate_limits.forget_idle(session, before)
