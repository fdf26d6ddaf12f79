"""New outbound messages into the outbox, with group commit.

Under load many API requests arrive at once; writing each in its own transaction pays a
BEGIN, a NOTIFY and a COMMIT (a WAL flush) per message. `Intake` lets concurrent sends share
one transaction: a request waits for the commit that holds its row before it answers, so an
accepted message is as durable as before, but a busy server commits dozens at a time. With
one request in flight nothing waits: the batch is that request alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia import metrics
from smsvia.domain import ids
from smsvia.domain.errors import InvalidParameter
from smsvia.domain.status import Status
from smsvia.services.accounts import Principal
from smsvia.store import senders as sender_queries
from smsvia.store.context import Store
from smsvia.store.models import Message, MessageEvent

MAX_BATCH = 256  # messages per shared transaction

# Which connector an account's sender uses, looked up once per SENDER_TTL: every send needs
# it, and it changes only when an operator changes the numbers. A refusal is not kept, so a
# number just added is usable at once.
SENDER_TTL = 10.0
_senders: dict[tuple[str, int, str], tuple[float, int]] = {}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A send request checked and priced, ready to become a row."""

    to: str
    sender: str
    body: str
    media: tuple[str, ...]
    smart_encoded: bool
    encoding: str
    segments: int
    price: Decimal
    currency: str
    status: Status
    status_callback: str | None
    validity_period: int | None
    send_at: datetime | None
    due_at: datetime
    expires_at: datetime
    detail: str  # the first timeline entry


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message to write: whose, what, through which connector, accepted when."""

    principal: Principal
    outgoing: Outgoing
    connector_id: int
    now: datetime


@dataclass(slots=True)
class _Waiting:
    new: NewMessage
    done: asyncio.Future[tuple[Message, MessageEvent]]


class Intake:
    """Writes new messages; concurrent callers share a transaction (see the module doc)."""

    def __init__(self, store: Store, *, max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._committer: asyncio.Task[None] | None = None

    async def write(self, new: NewMessage) -> tuple[Message, MessageEvent]:
        """The message and its first event, once committed."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(new, done))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_while_waiting())
        return await done

    async def _commit_while_waiting(self) -> None:
        # Ends when nobody waits; `write` starts it again. What arrives during a commit
        # goes into the next one.
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            await self._commit(batch)

    async def _commit(self, batch: list[_Waiting]) -> None:
        try:
            async with self._store.db.transaction() as session:
                written = await write_messages(session, self._store, [w.new for w in batch])
        except Exception as exc:
            if len(batch) > 1:
                # Whatever failed must fail alone, not take its neighbours with it.
                for waiting in batch:
                    await self._commit([waiting])
                return
            _settle(batch[0].done, exception=exc)
            return
        for waiting, result in zip(batch, written, strict=True):
            _settle(waiting.done, result=result)
        for new in (w.new for w in batch):
            metrics.MESSAGE_STATUS.labels(str(new.outgoing.status), "sms").inc()


async def write_messages(
    session: AsyncSession, store: Store, batch: Sequence[NewMessage]
) -> list[tuple[Message, MessageEvent]]:
    """Insert the messages and their first timeline entries; wake the workers."""
    messages = [_message_row(store, new) for new in batch]
    session.add_all(messages)
    await session.flush()
    events = [
        MessageEvent(
            message_id=message.id,
            at=new.now,
            event=str(new.outgoing.status),
            detail=new.outgoing.detail,
        )
        for message, new in zip(messages, batch, strict=True)
    ]
    session.add_all(events)
    if messages:
        await store.signal.notify(session)
    return list(zip(messages, events, strict=True))


async def sender_connector(store: Store, principal: Principal, sender: str) -> int:
    """The connector of the account's sender `sender`; 21606 when it is not one."""
    key = (store.db.url, principal.account_id, sender)
    now = time.monotonic()
    cached = _senders.get(key)
    if cached is not None and now - cached[0] <= SENDER_TTL:
        return cached[1]
    async with store.db.sessions() as session:
        number = await sender_queries.sender_of_account(session, principal.account_id, sender)
    if number is None:
        raise InvalidParameter(
            f"The 'From' number {sender} is not a sender of this account",
            code=21606,
            field="From",
        )
    if len(_senders) > 10_000:
        _senders.clear()
    _senders[key] = (now, number.connector_id)
    return number.connector_id


def _message_row(store: Store, new: NewMessage) -> Message:
    outgoing = new.outgoing
    return Message(
        sid=ids.new_sid(ids.MESSAGE),
        account_id=new.principal.account_id,
        direction="outbound-api",
        sender=outgoing.sender,
        recipient=store.cipher.seal(outgoing.to, "message.to"),
        recipient_index=store.cipher.blind_index(outgoing.to, "phone"),
        body=store.cipher.seal(outgoing.body, "message.body"),
        media_urls=list(outgoing.media),
        status=outgoing.status,
        channel="sms",
        encoding=outgoing.encoding,
        num_segments=outgoing.segments,
        num_media=len(outgoing.media),
        smart_encoded=outgoing.smart_encoded,
        price=outgoing.price,
        price_unit=outgoing.currency,
        status_callback=outgoing.status_callback,
        validity_period=outgoing.validity_period,
        send_at=outgoing.send_at,
        expires_at=outgoing.expires_at,
        connector_id=new.connector_id,
        date_created=new.now,
        date_updated=new.now,
        due_at=outgoing.due_at,
        attempts=0,
    )


def _settle(future: asyncio.Future, *, result: object = None, exception: Exception | None = None):
    if future.done():  # the caller went away (its request was cancelled)
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)
