"""Messages already written: their views (numbers and body opened, the timeline), listing
with filters and paging, and what the API may still change (cancel, redact, delete)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from smsvia.domain.errors import Conflict, InvalidParameter, NotFound
from smsvia.domain.status import FINAL, Status
from smsvia.services.accounts import Principal
from smsvia.services.clock import Clock, utcnow
from smsvia.services.delivery import Tracker
from smsvia.services.paging import decode_token, encode_token
from smsvia.services.senders import normalize_sender
from smsvia.store import messages as queries
from smsvia.store.context import Store
from smsvia.store.models import Message, MessageEvent

MAX_PAGE_SIZE = 1000
MAX_PAGE = 1_000_000  # Page x PageSize stays an offset both databases take
FALLBACK_LABEL = "Sent as SMS via server"
_FALLBACK_SENT = frozenset({Status.QUEUED, Status.SENDING, Status.SENT, Status.DELIVERED})


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    event: str
    detail: str


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message as callers see it, numbers and body opened."""

    sid: str
    account_sid: str
    direction: str
    sender: str
    to: str
    body: str
    media_urls: tuple[str, ...]
    status: str
    channel: str
    encoding: str
    num_segments: int
    num_media: int
    price: Decimal | None
    price_unit: str
    error_code: int | None
    error_message: str | None
    date_created: datetime
    date_updated: datetime
    date_sent: datetime | None
    status_label: str
    fallback_reason: str | None = None
    category: str | None = None
    content: dict[str, Any] | None = None  # rich content, native JSON
    timeline: tuple[TimelineEntry, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: list[MessageView]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class ListQuery:
    to: str | None = None
    sender: str | None = None
    sent_on_or_after: datetime | None = None
    sent_before: datetime | None = None
    page_size: int = 50
    page: int = 0  # used only without a page_token, as an offset
    page_token: str | None = None
    status: str | None = None


async def get_message(
    store: Store, principal: Principal, sid: str, *, with_timeline: bool = False
) -> MessageView:
    async with store.db.sessions() as session:
        message = await _owned(session, principal, sid)
        events = await queries.timeline(session, message.id) if with_timeline else ()
        return message_view(store, message, principal.account_sid, events)


async def list_messages(store: Store, principal: Principal, query: ListQuery) -> MessagePage:
    """Newest first, one page; `next_token` continues after its last message."""
    if not 1 <= query.page_size <= MAX_PAGE_SIZE:
        raise InvalidParameter(
            f"PageSize must be between 1 and {MAX_PAGE_SIZE}", code=20001, field="PageSize"
        )
    if not 0 <= query.page <= MAX_PAGE:
        raise InvalidParameter(f"Page must be between 0 and {MAX_PAGE}", code=20001, field="Page")
    where = queries.MessageFilter(
        to=_party(store, query.to) if query.to else None,
        sender=_party(store, query.sender) if query.sender else None,
        sent_on_or_after=query.sent_on_or_after,
        sent_before=query.sent_before,
        status=_status(query.status) if query.status else None,
    )
    before_id = decode_token(query.page_token) if query.page_token else None
    offset = 0 if before_id is not None else query.page * query.page_size
    async with store.db.sessions() as session:
        rows = await queries.page_of_messages(
            session,
            principal.account_id,
            where,
            before_id=before_id,
            limit=query.page_size + 1,
            offset=offset,
        )
    more = len(rows) > query.page_size
    rows = rows[: query.page_size]
    views = [message_view(store, row, principal.account_sid, ()) for row in rows]
    return MessagePage(views, encode_token(rows[-1].id) if more else None)


def _party(store: Store, number: str) -> queries.Party:
    """A To or From filter: a number (either side's) or an alphanumeric sender ID (ours)."""
    sender = normalize_sender(number)
    indexes = store.cipher.lookup_indexes(sender, "phone") if sender.startswith("+") else []
    return queries.Party(tuple(indexes), sender)


async def cancel_message(
    store: Store, principal: Principal, sid: str, *, clock: Clock = utcnow
) -> MessageView:
    """Cancel a scheduled message before it goes out."""
    now = clock()
    async with store.db.transaction() as session:
        message = await _owned(session, principal, sid, for_update=True)
        if message.status != Status.SCHEDULED:
            raise Conflict(f"Only a scheduled message can be canceled, not a {message.status} one")
        message.due_at = None
        await Tracker(store).move(
            session, message, Status.CANCELED, now, "canceled through the API"
        )
        events = await queries.timeline(session, message.id)
    return message_view(store, message, principal.account_sid, events)


async def redact_message(
    store: Store, principal: Principal, sid: str, *, clock: Clock = utcnow
) -> MessageView:
    """Blank the body of a message that is done (Twilio's POST Body='')."""
    now = clock()
    async with store.db.transaction() as session:
        message = await _owned(session, principal, sid, for_update=True)
        if message.status not in FINAL:
            raise Conflict(f"A {message.status} message cannot be redacted until it is done")
        message.body = store.cipher.seal("", "message.body")
        message.date_updated = now
        queries.record_event(session, message.id, now, "redacted", "body removed")
    return message_view(store, message, principal.account_sid, ())


async def delete_message(store: Store, principal: Principal, sid: str) -> None:
    async with store.db.transaction() as session:
        message = await _owned(session, principal, sid, for_update=True)
        if message.status in (Status.QUEUED, Status.SENDING, Status.ACCEPTED):
            raise Conflict(f"A {message.status} message is being sent and cannot be deleted")
        if message.status == Status.SCHEDULED:
            raise Conflict("Cancel a scheduled message before deleting it")
        await queries.delete_message(session, message.id)


async def _owned(session, principal: Principal, sid: str, *, for_update: bool = False) -> Message:
    # A SID of another account answers exactly like one that does not exist.
    message = await queries.message_by_sid(session, principal.account_id, sid)
    if message is None:
        raise NotFound(f"The requested resource Message {sid} was not found")
    if for_update:
        await session.refresh(message, with_for_update=True)
    return message


def message_view(
    store: Store, message: Message, account_sid: str, events: Sequence[MessageEvent]
) -> MessageView:
    handset = store.cipher.open(message.recipient, "message.to")
    return MessageView(
        sid=message.sid,
        account_sid=account_sid,
        direction=message.direction,
        # Inbound: the customer wrote from the sealed `recipient` to our `sender`.
        sender=handset if message.direction == "inbound" else message.sender,
        to=message.sender if message.direction == "inbound" else handset,
        body=store.cipher.open(message.body, "message.body"),
        media_urls=tuple(message.media_urls or ()),
        status=message.status,
        channel=message.channel,
        encoding=message.encoding,
        num_segments=message.num_segments,
        num_media=message.num_media,
        price=message.price,
        price_unit=message.price_unit,
        error_code=message.error_code,
        error_message=message.error_message,
        date_created=message.date_created,
        date_updated=message.date_updated,
        date_sent=message.date_sent,
        status_label=_label(message),
        fallback_reason=message.fallback_reason,
        category=message.category,
        content=(
            json.loads(store.cipher.open(message.rich_content, "message.rich_content"))
            if message.rich_content is not None
            else None
        ),
        timeline=tuple(TimelineEntry(e.at, e.event, e.detail) for e in events),
    )


def _label(message: Message) -> str:
    via = {"sms": "SMS", "mms": "MMS", "rcs": "RCS"}.get(message.channel, message.channel)
    if message.fallback_reason and message.status in _FALLBACK_SENT:
        return FALLBACK_LABEL
    labels = {
        Status.QUEUED: "Queued",
        Status.SCHEDULED: "Scheduled",
        Status.SENDING: f"Sending as {via}",
        Status.SENT: f"Sent as {via}",
        Status.DELIVERED: f"Delivered as {via}",
        Status.READ: f"Read ({via})",
        Status.UNDELIVERED: "Not delivered",
        Status.FAILED: "Failed",
        Status.CANCELED: "Canceled",
        Status.RECEIVED: "Received",
    }
    return labels.get(Status(message.status), message.status)


def _status(value: str) -> str:
    if value not in {str(status) for status in Status}:
        raise InvalidParameter(
            f"Status {value!r} is not a message status", code=20001, field="Status"
        )
    return value
