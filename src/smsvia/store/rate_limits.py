"""Named queries for rate limits shared by every process (PostgreSQL).

-- take_tokens --  up to `want` tokens of a named bucket, refilled at `rate` a second up to
                   `burst` since it was last drawn from; the row is created (full) on first
                   use. Answers how many were taken and how many were left.
-- forget_idle --  buckets nobody drew from for a while: a full bucket and no row are the same

A bucket is one row ("connector:7" for a connector's submit rate, "api:SK…" for a credential,
"form:FT…:203.0.113.9" for an address on an opt-in form), refilled by the database's own
clock, so processes on several machines share one limit without trusting each other's clocks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.models import RateBucket

_TAKE = text(
    """
    WITH refilled AS (
        SELECT name,
               LEAST(:burst, tokens + :rate * EXTRACT(EPOCH FROM clock_timestamp() - updated_at))
                   AS available
        FROM rate_buckets WHERE name = :name FOR UPDATE
    ), granted AS (
        SELECT name, available, LEAST(:want, FLOOR(GREATEST(available, 0))) AS taken
        FROM refilled
    )
    UPDATE rate_buckets AS bucket
    SET tokens = granted.available - granted.taken, updated_at = clock_timestamp()
    FROM granted
    WHERE bucket.name = granted.name
    RETURNING granted.taken::int, (granted.available - granted.taken)::float
    """
)


_CREATE = text(
    """
    INSERT INTO rate_buckets (name, tokens, updated_at)
    VALUES (:name, :burst, clock_timestamp())
    ON CONFLICT (name) DO NOTHING
    """
)


async def take_tokens(
    session: AsyncSession, name: str, *, want: int, rate: float, burst: float
) -> tuple[int, float]:
    """(tokens taken of `want`, tokens left): (0, 0.4) when the bucket is empty."""
    values = {"name": name, "want": want, "rate": rate, "burst": burst}
    row = (await session.execute(_TAKE, values)).first()
    if row is None:  # the bucket's first draw: it starts full
        await session.execute(_CREATE, values)
        row = (await session.execute(_TAKE, values)).one()
    return int(row[0]), float(row[1])


async def forget_idle(session: AsyncSession, before: datetime) -> int:
    """Drop buckets last drawn from before `before` (they would be full again by now)."""
    result = await session.execute(delete(RateBucket).where(RateBucket.updated_at < before))
    return int(result.rowcount or 0)
