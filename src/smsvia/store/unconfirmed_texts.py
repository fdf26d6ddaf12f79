"""Named queries for customers' one-part texts whose answer the SMSC may not have read
(dispatch/inbound.py).

-- keep --          note a text received (or offered again) on a link, until its answer is
                    confirmed
-- take_offered --  the oldest such text, the same as one just offered on another link, since
                    a time: taken (forgotten), as that offer is the same text again
-- forget --        texts whose answer the SMSC surely read
-- forget_before -- texts older than any offer that could still come
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.models import UnconfirmedText


async def keep(session: AsyncSession, text: UnconfirmedText) -> int:
    session.add(text)
    await session.flush()
    return text.id


async def take_offered(
    session: AsyncSession,
    *,
    number_id: int,
    source_indexes: Collection[str],
    body_indexes: Collection[str],
    link: str,
    since: datetime,
) -> UnconfirmedText | None:
    """During a key rotation the indexes are the text's under every key of the ring."""
    offered = await session.scalar(
        select(UnconfirmedText)
        .where(
            UnconfirmedText.number_id == number_id,
            UnconfirmedText.source_index.in_(source_indexes),
            UnconfirmedText.body_index.in_(body_indexes),
            UnconfirmedText.link != link,
            UnconfirmedText.received_at >= since,
        )
        .order_by(UnconfirmedText.id)
        .limit(1)
        .with_for_update()
    )
    if offered is not None:
        await session.delete(offered)
    return offered


async def forget(session: AsyncSession, ids: Collection[int]) -> None:
    await session.execute(delete(UnconfirmedText).where(UnconfirmedText.id.in_(ids)))


async def forget_before(session: AsyncSession, before: datetime) -> int:
    done = await session.execute(
        delete(UnconfirmedText).where(UnconfirmedText.received_at < before)
    )
    return done.rowcount or 0
