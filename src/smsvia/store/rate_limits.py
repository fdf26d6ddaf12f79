"""Named queries for submit rate limits shared by every worker process (PostgreSQL).

-- take_tokens --  up to `want` tokens of a connector's bucket, refilled at `rate` a second
                   up to `burst` since it was last drawn from; the row is created on first use

The bucket is one row per connector, refilled by the database's own clock, so processes on
several machines draw from the same limit without trusting each other's clocks.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_TAKE = text(
    """
    WITH refilled AS (
        SELECT connector_id,
               LEAST(:burst, tokens + :rate * EXTRACT(EPOCH FROM clock_timestamp() - updated_at))
                   AS available
        FROM connector_tokens WHERE connector_id = :connector FOR UPDATE
    )
    UPDATE connector_tokens AS bucket
    SET tokens = refilled.available - LEAST(:want, FLOOR(GREATEST(refilled.available, 0))),
        updated_at = clock_timestamp()
    FROM refilled
    WHERE bucket.connector_id = refilled.connector_id
    RETURNING LEAST(:want, FLOOR(GREATEST(refilled.available, 0)))::int
    """
)


_CREATE = text(
    """
    INSERT INTO connector_tokens (connector_id, tokens, updated_at)
    VALUES (:connector, :burst, clock_timestamp())
    ON CONFLICT (connector_id) DO NOTHING
    """
)


async def take_tokens(
    session: AsyncSession, connector_id: int, *, want: int, rate: float, burst: float
) -> int:
    """How many of `want` tokens were taken (0 when the bucket is empty)."""
    values = {"connector": connector_id, "want": want, "rate": rate, "burst": burst}
    taken = await session.scalar(_TAKE, values)
    if taken is None:  # the connector's first draw: its bucket starts full
        await session.execute(_CREATE, values)
        taken = await session.scalar(_TAKE, values)
    return int(taken or 0)
