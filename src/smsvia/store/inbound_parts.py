"""Named queries for the parts of customers' long texts (services/inbound_parts.py).

-- lock_text --       one transaction at a time on one text's parts (PostgreSQL: an advisory
                      lock on its key; SQLite writes one transaction at a time anyway)
-- parts_of --        every part kept of one text, received or waiting, in order (during a
                      key rotation, under any key of the ring)
-- drop_parts --      forget the parts of one text
-- overdue_texts --   texts still waiting for parts whose first part came before a time
-- drop_received --   forget parts of received texts that came before a time
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.models import InboundPart

_TEXT_LOCK = 7_206_117_003  # the advisory locks' first key, beside the consent ledger's


class TextKey(NamedTuple):
    """What the parts of one long text share: to, from, reference, and how many parts."""

    destination: str
    source_index: str  # the customer's blind index under the primary key (a new part's)
    source_indexes: tuple[str, ...]  # ... under every key of the ring (a kept part's)
    reference: int
    total: int


class Waiting(NamedTuple):
    """A text still waiting for parts, as one of its parts names it."""

    destination: str
    source_index: str
    reference: int
    total: int


async def lock_text(session: AsyncSession, key: TextKey) -> None:
    if session.bind.dialect.name != "postgresql":
        return
    place = (key.destination, key.source_index, key.reference, key.total)
    digest = hashlib.blake2b(repr(place).encode(), digest_size=4).digest()
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:space, :text)"),
        {"space": _TEXT_LOCK % 2**31, "text": int.from_bytes(digest) & 0x7FFFFFFF},
    )


async def parts_of(session: AsyncSession, key: TextKey | Waiting) -> Sequence[InboundPart]:
    query = select(InboundPart).where(*_of(key)).order_by(InboundPart.sequence)
    return (await session.scalars(query)).all()


async def drop_parts(session: AsyncSession, key: TextKey) -> None:
    await session.execute(delete(InboundPart).where(*_of(key)))


async def overdue_texts(session: AsyncSession, before: datetime, limit: int) -> list[Waiting]:
    columns = (
        InboundPart.destination,
        InboundPart.source_index,
        InboundPart.reference,
        InboundPart.total,
    )
    query = (
        select(*columns)
        .where(InboundPart.received_as.is_(None))
        .group_by(*columns)
        .having(func.min(InboundPart.received_at) < before)
        .order_by(func.min(InboundPart.received_at))
        .limit(limit)
    )
    return [Waiting(*row) for row in await session.execute(query)]


async def drop_received(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(
        delete(InboundPart).where(
            InboundPart.received_as.is_not(None), InboundPart.received_at < before
        )
    )
    return result.rowcount or 0


def _of(key: TextKey | Waiting) -> tuple[ColumnElement[bool], ...]:
    indexes = key.source_indexes if isinstance(key, TextKey) else (key.source_index,)
    return (
        InboundPart.destination == key.destination,
        InboundPart.source_index.in_(indexes),
        InboundPart.reference == key.reference,
        InboundPart.total == key.total,
    )
