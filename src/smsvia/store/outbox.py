"""The outbox: the messages table is the queue. Named queries for claiming and finishing work.

-- insert_messages --      new messages, as rows with their ids
-- claim_due_messages --   take up to N due messages no live lease holds (SKIP LOCKED on
                           PostgreSQL, so workers never wait on each other); expired leases
                           are taken back, which is how a crashed worker's work is resumed
-- parts_of --             the submit_sm parts recorded for messages
-- record_intents --       note parts about to go on the wire (`sending`), only for messages
                           the worker still holds: the lease owner is the fence
-- record_parts --         write submit outcomes: new parts, or news of parts a worker marked
                           `sending` (or another flagged ambiguous after losing the lease)
-- messages_for_update --  claimed messages again, locked, to record what became of them
-- message_and_part --     a message by SID, locked, and one of its parts (a late answer's)
-- parts_by_smsc_keys --   the parts delivery receipts may answer, with their handsets
-- ambiguous_parts_for --  unanswered parts to the same handsets on the same connector
-- store_receipts --       receipts as they arrive, before any matching
-- mark_receipts_tried --  count a matching attempt; matched receipts are done
-- unapplied_receipts --   receipts not yet matched to a part
-- queue_depth --          messages waiting, for /metrics
-- lease_holders --        who holds claims on messages and callbacks now
-- expire_leases_of --     end the claims of workers that are gone, so others take them now

The worker and the receipts read messages and parts as `Loaded` rows (store/rows.py), not
ORM objects, and `save` writes what changed in a batch at once. `release` ends a worker's
lease on a claimed message (due again at `due_at`, or never).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, literal, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.leases import lock_due
from smsvia.store.models import Message, MessagePart, ReceiptInbox, WebhookDelivery
from smsvia.store.rows import (
    COPY_FROM,
    Loaded,
    among,
    among_given,
    insert_many,
    insert_returning,
    save,
)

__all__ = ["MessageRow", "PartRow", "save"]

_messages = Message.__table__
_parts = MessagePart.__table__
_receipts = ReceiptInbox.__table__
_STATE_WIDTH, _ERROR_WIDTH = _receipts.c.state.type.length, _receipts.c.error.type.length
_AMBIGUOUS = literal("ambiguous", literal_execute=True)
# An expired lease: any claim may take the row.
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


class MessageRow(Loaded):
    """A message as intake, the worker and the receipts see it: every column, as plain
    attributes."""

    table = _messages
    __slots__ = tuple(_messages.c.keys())


class PartRow(Loaded):
    """One recorded submit_sm of a message."""

    table = _parts
    __slots__ = tuple(_parts.c.keys())


_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('messages', 'id')) FROM generate_series(1, :n)"
)


async def insert_messages(
    session: AsyncSession, messages: Sequence[Mapping[str, Any]]
) -> list[MessageRow]:
    """Insert messages (their columns but the id) in one statement; returns them as rows.

    Many at once on PostgreSQL (a campaign's batch) take their ids from the sequence first
    and go in by COPY."""
    if not messages:
        return []
    if len(messages) >= COPY_FROM and session.bind.dialect.name == "postgresql":
        taken = await session.scalars(_NEXT_IDS, {"n": len(messages)})
        rows = [{**values, "id": id} for values, id in zip(messages, taken, strict=True)]
        await insert_many(session, _messages, rows)
        return [MessageRow.of(row) for row in rows]
    ids = await insert_returning(session, _messages, messages)
    return [
        MessageRow.of({**values, "id": id}) for values, (id,) in zip(messages, ids, strict=True)
    ]


async def claim_due_messages(
    session: AsyncSession,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
) -> list[MessageRow]:
    """The lease is set on the rows, not yet written: the worker saves it with the status
    it moves them to (rows.save), one UPDATE for both."""
    messages = [MessageRow(row) for row in await lock_due(session, _messages, now=now, limit=limit)]
    for message in messages:
        message.lease_owner = owner
        message.lease_expires_at = lease_until
        message.attempts += 1
    return messages


async def parts_of(session: AsyncSession, message_ids: Collection[int]) -> list[PartRow]:
    if not message_ids:
        return []
    rows = await session.execute(_kept(session).parts_of, {"ids": list(message_ids)})
    return [PartRow(row) for row in rows]


async def record_intents(
    session: AsyncSession, owner: str, intents: Sequence[Mapping[str, Any]]
) -> set[tuple[int, int]]:
    """Insert parts as `sending` (or move them there from `pending`) for the messages `owner`
    still holds; returns the (message_id, sequence) of those written. On PostgreSQL the held
    messages are share-locked until commit, so a takeover waits for the intents and sees
    them."""
    if not intents:
        return set()
    kept = _kept(session)
    ids = list({row["message_id"] for row in intents})
    ours = set(await session.scalars(kept.held, {"ids": ids, "owner": owner}))
    rows = [row for row in intents if row["message_id"] in ours]
    if not rows:
        return set()
    written = await insert_returning(
        session, kept.intents, rows, (_parts.c.message_id, _parts.c.sequence)
    )
    return {(message_id, sequence) for _, message_id, sequence in written}


async def record_parts(session: AsyncSession, parts: Sequence[Mapping[str, Any]]) -> None:
    """Insert parts (every column but the id); a part already recorded is updated only while
    its outcome is unknown: `sending` (ours, from the claim), or `ambiguous` (flagged by a
    worker that took the message over after our lease ran out: our answer is the truth)."""
    if not parts:
        return
    await insert_many(session, _kept(session).parts, parts)


async def messages_for_update(
    session: AsyncSession, message_ids: Collection[int]
) -> list[MessageRow]:
    if not message_ids:
        return []
    rows = await session.execute(_kept(session).messages_for_update, {"ids": list(message_ids)})
    return [MessageRow(row) for row in rows]


async def message_and_part(
    session: AsyncSession, sid: str, connector_id: int, sequence: int
) -> tuple[MessageRow | None, PartRow | None]:
    """The message with this SID (locked on PostgreSQL) and its part `sequence` on the
    connector (None for either that is not there)."""
    query = select(_messages).where(_messages.c.sid == sid)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    found = (await session.execute(query)).first()
    if found is None:
        return None, None
    message = MessageRow(found)
    part = (
        await session.execute(
            select(_parts).where(
                _parts.c.message_id == message.id,
                _parts.c.connector_id == connector_id,
                _parts.c.sequence == sequence,
            )
        )
    ).first()
    return message, PartRow(part) if part is not None else None


@dataclass(frozen=True, slots=True)
class Handset:
    """A part's recipient: its blind index, and the sealed number (to compare indexes made
    under two keys while the master key is rotated)."""

    index: str
    sealed: bytes


async def parts_by_smsc_keys(
    session: AsyncSession, connector_id: int, smsc_keys: Collection[str]
) -> list[tuple[PartRow, Handset]]:
    """Every part on the connector with one of these `smsc_key`s (ids come round again, so a
    key may match an old, finished part too), with its message's recipient."""
    rows = await session.execute(
        _kept(session).parts_by_smsc_keys, {"connector": connector_id, "keys": list(smsc_keys)}
    )
    return [(PartRow(tuple(row)[:-2]), Handset(*tuple(row)[-2:])) for row in rows]


async def ambiguous_parts_for(
    session: AsyncSession, connector_id: int, recipient_indexes: Collection[str] | None
) -> list[tuple[PartRow, Handset]]:
    """Unanswered parts to these handsets (None: to any) on the connector, oldest first,
    with the recipient."""
    query = (
        select(_parts, _messages.c.recipient_index, _messages.c.recipient)
        .join(_messages, _messages.c.id == _parts.c.message_id)
        # In the SQL text, not a parameter: only then can the planner use the partial index.
        .where(_parts.c.connector_id == connector_id, _parts.c.status == _AMBIGUOUS)
        .order_by(_parts.c.id)
    )
    if recipient_indexes is not None:
        query = query.where(among(session, _messages.c.recipient_index, recipient_indexes))
    rows = await session.execute(query)
    return [(PartRow(tuple(row)[:-2]), Handset(*tuple(row)[-2:])) for row in rows]


def receipt_row(
    connector_id: int,
    smsc_message_id: str,
    state: str,
    error: str,
    recipient_index: str,
    *,
    received_at: datetime,
    attempts: int = 0,
) -> dict[str, Any]:
    """A receipt for `store_receipts`. Its state and error are whatever the SMSC or MMSC
    wrote: cut to their columns' widths, as PostgreSQL would refuse them longer."""
    return {
        "connector_id": connector_id,
        "smsc_message_id": smsc_message_id,
        "state": state[:_STATE_WIDTH],
        "error": error[:_ERROR_WIDTH],
        "recipient_index": recipient_index,
        "received_at": received_at,
        "applied_at": None,
        "attempts": attempts,
    }


async def store_receipts(
    session: AsyncSession, receipts: Sequence[Mapping[str, Any]]
) -> Sequence[Row[Any]]:
    """Keep receipts (every column but the id) in the inbox; returns the rows stored."""
    columns = [column for column in _receipts.c if column.key != "id"]
    return await insert_returning(session, _receipts, receipts, columns)


async def mark_receipts_tried(
    session: AsyncSession, ids: Sequence[int], *, matched: Collection[int], now: datetime
) -> None:
    """Count a matching attempt on each receipt; the matched ones are done."""
    done = [i for i in ids if i in matched]
    missed = [i for i in ids if i not in matched]
    kept = _kept(session)
    if done:
        await session.execute(kept.receipts_applied, {"ids": done, "now": now})
    if missed:
        await session.execute(kept.receipts_missed, {"ids": missed})


async def unapplied_receipts(
    session: AsyncSession, *, tried_before: datetime, untried_before: datetime, limit: int
) -> Sequence[Row[Any]]:
    """Receipts not matched yet: tried and missed before `tried_before`, or never tried
    and received before `untried_before`."""
    rows = await session.execute(
        select(_receipts)
        .where(
            _receipts.c.applied_at.is_(None),
            or_(
                and_(_receipts.c.attempts > 0, _receipts.c.received_at <= tried_before),
                _receipts.c.received_at <= untried_before,
            ),
        )
        .order_by(_receipts.c.id)
        .limit(limit)
    )
    return rows.all()


async def queue_depth(session: AsyncSession, now: datetime) -> int:
    return (
        await session.scalar(select(func.count()).select_from(Message).where(Message.due_at <= now))
        or 0
    )


async def lease_holders(session: AsyncSession, now: datetime) -> set[str]:
    """The owners of live claims on messages and callbacks."""
    holders: set[str] = set()
    for table in (_messages, WebhookDelivery.__table__):
        holders.update(
            await session.scalars(
                select(table.c.lease_owner)
                .where(table.c.lease_owner.is_not(None), table.c.lease_expires_at >= now)
                .distinct()
            )
        )
    return holders


async def expire_leases_of(session: AsyncSession, owners: Collection[str], now: datetime) -> int:
    """End the claims `owners` hold, so any worker may take them at once; returns how many."""
    ended = 0
    for table in (_messages, WebhookDelivery.__table__):
        result = await session.execute(
            update(table)
            .where(among(session, table.c.lease_owner, owners), table.c.lease_expires_at >= now)
            .values(lease_expires_at=_LONG_AGO)
        )
        ended += result.rowcount
    return ended


def release(message: Message | MessageRow, due_at: datetime | None) -> None:
    """Give a claimed message back: due again at `due_at`, or done with (None)."""
    message.lease_owner = None
    message.lease_expires_at = None
    message.due_at = due_at


class _Statements:
    """The hot statements, built once for a dialect: building one and its cache key costs
    50-400 µs, more than running it. Values come as parameters (`ids`, `owner`, ...)."""

    def __init__(self, dialect: Dialect) -> None:
        ids = functools.partial(among_given, dialect)
        postgres = dialect.name == "postgresql"
        insert = (postgresql if postgres else sqlite).insert

        self.parts_of = (
            select(_parts)
            .where(ids(_parts.c.message_id, "ids"))
            .order_by(_parts.c.message_id, _parts.c.sequence)
        )
        messages = select(_messages).where(ids(_messages.c.id, "ids")).order_by(_messages.c.id)
        self.messages_for_update = messages.with_for_update() if postgres else messages
        held = (
            select(_messages.c.id)
            .where(ids(_messages.c.id, "ids"), _messages.c.lease_owner == bindparam("owner"))
            .order_by(_messages.c.id)  # locked in id order, as every other locker takes them
        )
        self.held = held.with_for_update(read=True) if postgres else held
        intents = insert(_parts)
        self.intents = intents.on_conflict_do_update(
            index_elements=[_parts.c.message_id, _parts.c.sequence],
            set_={"status": intents.excluded.status, "connector_id": intents.excluded.connector_id},
            where=_parts.c.status == "pending",
        )
        parts = insert(_parts)
        outcome = ("status", "smsc_message_id", "smsc_key", "error_code", "submitted_at")
        self.parts = parts.on_conflict_do_update(
            index_elements=[_parts.c.message_id, _parts.c.sequence],
            set_={name: parts.excluded[name] for name in outcome},
            # (no IN: an expanding parameter cannot go into an executemany)
            where=or_(_parts.c.status == "sending", _parts.c.status == "ambiguous"),
        )
        self.parts_by_smsc_keys = (
            select(_parts, _messages.c.recipient_index, _messages.c.recipient)
            .join(_messages, _messages.c.id == _parts.c.message_id)
            .where(_parts.c.connector_id == bindparam("connector"), ids(_parts.c.smsc_key, "keys"))
        )
        tried = update(_receipts).where(ids(_receipts.c.id, "ids"))
        self.receipts_missed = tried.values(attempts=_receipts.c.attempts + 1)
        self.receipts_applied = tried.values(
            attempts=_receipts.c.attempts + 1,
            applied_at=bindparam("now", type_=_receipts.c.applied_at.type),
        )


@functools.cache
def _statements(dialect: Dialect) -> _Statements:
    return _Statements(dialect)


def _kept(session: AsyncSession) -> _Statements:
    return _statements(session.bind.dialect)
