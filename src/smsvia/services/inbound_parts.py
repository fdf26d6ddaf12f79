"""Customers' long texts: each part kept as it comes, one inbound message once all are in.

A phone splits a text longer than one SMS; the SMSC delivers the parts one by one, in any
order, on any bind, and offers one again when our answer to it was lost. Each part is
stored, sealed, before the SMSC hears we have it (dispatch/inbound.py). The part that
completes its text joins the parts, in their order, and the whole text is received as one
message (services/inbound.py) in the same transaction; the parts stay a while after, so a
part offered again is known and dropped. A text some of whose parts never come is received
as it stands once it is overdue, GAP where parts are missing: the shop still reads it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain.encoding import Part, text_from_parts, text_with_gaps
from smsvia.domain.errors import UndecodableText
from smsvia.domain.pricing import PriceBook
from smsvia.services import inbound
from smsvia.services.delivery import Tracker
from smsvia.store import inbound_parts as queries
from smsvia.store import senders as sender_queries
from smsvia.store.context import Store
from smsvia.store.inbound_parts import TextKey, Waiting
from smsvia.store.models import InboundPart, Message, Number

log = logging.getLogger(__name__)

GAP = "[…]"  # where parts of an overdue text are missing
OVERDUE_BATCH = 100


async def receive_part(
    session: AsyncSession,
    store: Store,
    tracker: Tracker,
    price_book: PriceBook,
    *,
    number: Number,
    handset: str,
    part: Part,
    connector: str,
    now: datetime,
) -> Message | None:
    """Keep one part (inside the caller's transaction); the message, once this part
    completes its text."""
    cipher = store.cipher
    key = _key(store, number.phone_number, handset, part.reference or 0, part.total)
    await queries.lock_text(session, key)
    kept = await queries.parts_of(session, key)
    taken = next((row for row in kept if row.sequence == part.sequence), None)
    if taken is not None:
        same = _octets(store, taken) == part.payload
        if same or taken.received_as is None:
            if not same:
                log.warning(
                    "part %d of %d of a customer's text to %s clashes with another text's "
                    "that is still waiting for its parts; dropped",
                    part.sequence,
                    part.total,
                    number.phone_number,
                )
            return None  # offered again
        # Other octets where a received text had its part: a new text reusing the reference.
        await queries.drop_parts(session, key)
        kept = ()
    row = InboundPart(
        destination=number.phone_number,
        source=cipher.seal(handset, "inbound_part.source"),
        source_index=key.source_index,
        reference=key.reference,
        total=part.total,
        sequence=part.sequence,
        data_coding=part.data_coding,
        payload=cipher.seal(part.payload.hex(), "inbound_part.payload"),
        connector=connector,
        received_at=now,
    )
    session.add(row)
    waiting = [kept_row for kept_row in kept if kept_row.received_as is None] + [row]
    if len(waiting) < part.total:
        return None
    parts = [_part(store, kept_row) for kept_row in waiting]
    try:
        text = text_from_parts(parts)
    except UndecodableText as exc:  # joined as far as it reads, rather than lost
        log.warning("a customer's long text to %s does not decode (%s)", key.destination, exc)
        text = text_with_gaps(parts, part.total, GAP)
    return await _receive(session, store, tracker, price_book, number, handset, waiting, text, now)


async def receive_overdue(
    store: Store, tracker: Tracker, price_book: PriceBook, *, before: datetime, now: datetime
) -> int:
    """Receive as they stand the texts whose first part came before `before` and that
    still lack parts; forget the parts of texts received before it. How many were received."""
    async with store.db.transaction() as session:
        keys = await queries.overdue_texts(session, before, OVERDUE_BATCH)
        await queries.drop_received(session, before)
    received = 0
    for key in keys:
        async with store.db.transaction() as session:
            received += await _receive_overdue(session, store, tracker, price_book, key, now)
    return received


async def _receive_overdue(
    session: AsyncSession,
    store: Store,
    tracker: Tracker,
    price_book: PriceBook,
    overdue: Waiting,
    now: datetime,
) -> int:
    named = await queries.parts_of(session, overdue)
    if not named:  # received meanwhile, and forgotten
        return 0
    handset = store.cipher.open(named[0].source, "inbound_part.source")
    key = _key(store, overdue.destination, handset, overdue.reference, overdue.total)
    await queries.lock_text(session, key)
    waiting = [row for row in await queries.parts_of(session, key) if row.received_as is None]
    if not waiting:  # its last part came meanwhile
        return 0
    number = await sender_queries.number_by_phone(session, key.destination)
    if number is None:
        log.warning("parts of a text to %s, which is nobody's number now; dropped", key.destination)
        await queries.drop_parts(session, key)
        return 0
    missing = sorted(set(range(1, key.total + 1)) - {row.sequence for row in waiting})
    log.warning(
        "a customer's text to %s lacks part(s) %s of %d; received without them",
        key.destination,
        ", ".join(map(str, missing)),
        key.total,
    )
    text = text_with_gaps([_part(store, row) for row in waiting], key.total, GAP)
    await _receive(session, store, tracker, price_book, number, handset, waiting, text, now)
    return 1


async def _receive(
    session: AsyncSession,
    store: Store,
    tracker: Tracker,
    price_book: PriceBook,
    number: Number,
    handset: str,
    parts: list[InboundPart],
    text: str,
    now: datetime,
) -> Message:
    message = await inbound.receive(
        session,
        store,
        tracker,
        price_book,
        number=number,
        handset=handset,
        text=text,
        channel="sms",
        now=now,
        segments=len(parts),
    )
    for row in parts:
        row.received_as = message.sid
    return message


def _key(store: Store, destination: str, handset: str, reference: int, total: int) -> TextKey:
    cipher = store.cipher
    return TextKey(
        destination,
        cipher.blind_index(handset, "phone"),
        tuple(cipher.lookup_indexes(handset, "phone")),
        reference,
        total,
    )


def _octets(store: Store, row: InboundPart) -> bytes:
    return bytes.fromhex(store.cipher.open(row.payload, "inbound_part.payload"))


def _part(store: Store, row: InboundPart) -> Part:
    return Part(_octets(store, row), row.data_coding, 0, row.reference, row.sequence, row.total)
