"""The submit rate limit shared by every worker on PostgreSQL: two workers drawing as fast as
they can never pass the connector's rate together, and an idle one leaves it all to the other."""

from __future__ import annotations

import asyncio
import time

import pytest

from smsvia.dispatch.shared_rate import SharedBucket
from smsvia.services import senders
from smsvia.store.database import Database
from smsvia.store.senders import connector_by_name

RATE = 40


async def drain(bucket: SharedBucket, until: float) -> int:
    taken = 0
    while time.monotonic() < until:
        await bucket.acquire()
        taken += 1
    return taken


# SQLite runs one worker, whose channel keeps its own bucket.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_share_one_limit(backend):
    async def scenario():
        settings = senders.SmppSettings("127.0.0.1", 2775, "smsvia", tps=RATE, window=10)
        await senders.add_smpp_connector(backend.store, "shared", settings, "secret")
        async with backend.store.db.sessions() as session:
            connector = await connector_by_name(session, "shared")
        # A second process: its own engine, its own connections.
        other = Database(backend.store.db.url)
        try:
            first = SharedBucket(backend.store.db, connector.id, RATE)
            second = SharedBucket(other, connector.id, RATE)
            started = time.monotonic()
            until = started + 3.0
            taken = await asyncio.gather(drain(first, until), drain(second, until))
            elapsed = time.monotonic() - started
            # A full bucket (one second's worth) plus the refill, and one slice each at most
            # in hand when time ran out.
            assert sum(taken) <= RATE + RATE * elapsed + 2 * (RATE // 10), taken
            assert min(taken) > 0, taken

            alone = await drain(first, time.monotonic() + 2.0)
            assert alone >= RATE  # the idle worker's share went to the busy one
        finally:
            await other.close()

    backend.run(scenario())
