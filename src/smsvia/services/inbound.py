"""Messages from customers: stored, answered when they are keywords, forwarded to the shop.

An inbound SMS or RCS reply becomes a message (direction `inbound`, status `received`). A
keyword (STOP, START, HELP and their synonyms) is written to the consent ledger and answered
once from the same number; a Y that answers an open double opt-in confirms it
(services/optin.py). Then it is forwarded to the number's `sms_url` as Twilio forwards
inbound messages (signed, retried), with `OptOutType` when it was a keyword.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia import metrics
from smsvia.domain import ids
from smsvia.domain.consent import ConsentKind, Keyword, keyword
from smsvia.domain.encoding import segment
from smsvia.domain.pricing import PriceBook
from smsvia.domain.status import Status
from smsvia.services import automatic, consent, optin
from smsvia.services.consent import RecipientUnsubscribed
from smsvia.services.delivery import API_VERSION, Tracker
from smsvia.store import accounts as account_queries
from smsvia.store import media as media_queries
from smsvia.store import messages as message_queries
from smsvia.store import webhooks as webhook_queries
from smsvia.store.context import Store
from smsvia.store.models import Message, Number
from smsvia.store.outbox import release

log = logging.getLogger(__name__)

_LEDGER_KIND = {
    Keyword.OPT_OUT: ConsentKind.OPTED_OUT,
    Keyword.OPT_IN: ConsentKind.OPTED_BACK_IN,
    Keyword.HELP: ConsentKind.HELP_REQUESTED,
}
_OPT_OUT_TYPE = {Keyword.OPT_OUT: "STOP", Keyword.OPT_IN: "START", Keyword.HELP: "HELP"}


@dataclass(frozen=True, slots=True)
class Kept:
    """A medium of an inbound MMS, kept as a file (store/media.py)."""

    content_type: str
    sha256: str
    size: int


def media_path(account_sid: str, message_sid: str, media_sid: str) -> str:
    """Where a medium's bytes are served, as Twilio's media URLs read."""
    return f"/{API_VERSION}/Accounts/{account_sid}/Messages/{message_sid}/Media/{media_sid}"


async def receive(
    session: AsyncSession,
    store: Store,
    tracker: Tracker,
    price_book: PriceBook,
    *,
    number: Number,
    handset: str,
    text: str,
    channel: str,
    now: datetime,
    extra_params: Mapping[str, str] | None = None,
    media: Sequence[Kept] = (),
    public_url: str = "",
    segments: int | None = None,
) -> Message:
    """Store one inbound message and do what it asks (inside the caller's transaction).

    An MMS's `media` are already kept as files; they get their rows here, and the shop's
    `sms_url` gets `MediaUrl0…` to fetch them from `public_url`. `segments`: the parts a
    long SMS came in (else those its text would take)."""
    message = _inbound_row(store, number, handset, text, channel, now)
    if segments is not None:
        message.num_segments = segments
    message.num_media = len(media)
    if media:
        message.sid = ids.new_sid(ids.MEDIA_MESSAGE)
    session.add(message)
    await session.flush()
    message_queries.record_event(session, message.id, now, "received", channel)
    account_sid = await tracker.account_sid(session, number.account_id)
    media_params = await _keep_media(session, message, account_sid, media, public_url, now)
    confirmed = await optin.confirm_if_pending(
        session,
        store,
        price_book,
        number=number,
        message=message,
        handset=handset,
        text=text,
        now=now,
    )
    said = None if confirmed else keyword(text)
    if said is not None:
        await _keyword(
            session, store, tracker, price_book, number, message, handset, text, said, now
        )
    if number.sms_url:
        params = {
            "MessageSid": message.sid,
            "SmsMessageSid": message.sid,
            "SmsSid": message.sid,
            "AccountSid": account_sid,
            "From": handset,
            "To": number.phone_number,
            "Body": text,
            "NumMedia": str(len(media)),
            "NumSegments": str(message.num_segments),
            "SmsStatus": "received",
            "ApiVersion": API_VERSION,
            "Channel": channel,
            **media_params,
            **(extra_params or {}),
        }
        if said is not None:
            params["OptOutType"] = _OPT_OUT_TYPE[said]
        url = number.sms_url
        forward = webhook_queries.Webhook(number.account_id, message.id, url, params, now)
        await webhook_queries.queue_webhooks(session, store.cipher, [forward])
    metrics.MESSAGE_STATUS.labels(str(Status.RECEIVED), channel).inc()
    return message


async def _keep_media(
    session: AsyncSession,
    message: Message,
    account_sid: str,
    media: Sequence[Kept],
    public_url: str,
    now: datetime,
) -> dict[str, str]:
    """The rows of an inbound MMS's media, and the parameters Twilio forwards them with."""
    params: dict[str, str] = {}
    rows = []
    for position, kept in enumerate(media):
        sid = ids.new_sid(ids.MEDIA)
        rows.append(
            {
                "sid": sid,
                "account_id": message.account_id,
                "message_id": message.id,
                "position": position,
                "content_type": kept.content_type,
                "size": kept.size,
                "sha256": kept.sha256,
                "source_url": None,
                "date_created": now,
            }
        )
        path = media_path(account_sid, message.sid, sid)
        params[f"MediaUrl{position}"] = f"{public_url.rstrip('/')}{path}"
        params[f"MediaContentType{position}"] = kept.content_type
    await media_queries.add_media(session, rows)
    return params


async def _keyword(
    session: AsyncSession,
    store: Store,
    tracker: Tracker,
    price_book: PriceBook,
    number: Number,
    message: Message,
    handset: str,
    text: str,
    said: Keyword,
    now: datetime,
) -> None:
    await consent.append(
        session,
        store,
        account_id=number.account_id,
        phone=handset,
        kind=_LEDGER_KIND[said],
        source="keyword",
        evidence={"message_sid": message.sid, "text": text, "to": number.phone_number},
        now=now,
    )
    message_queries.record_event(session, message.id, now, "keyword", f"{said}: ledger entry")
    if said == Keyword.OPT_OUT:
        await _withdraw_pending(session, store, tracker, number.account_id, handset, now)
    account = await account_queries.account_by_id(session, number.account_id)
    assert account is not None
    reply = {
        Keyword.OPT_OUT: account.opt_out_text or consent.DEFAULT_OPT_OUT,
        Keyword.OPT_IN: account.opt_in_text or consent.DEFAULT_OPT_IN,
        Keyword.HELP: account.help_text or consent.DEFAULT_HELP,
    }[said]
    await automatic.send(session, store, price_book, number, account.sid, handset, reply, now)


async def _withdraw_pending(
    session: AsyncSession,
    store: Store,
    tracker: Tracker,
    account_id: int,
    handset: str,
    now: datetime,
) -> None:
    """STOP applies at once: what waits for this number in the outbox (a marketing text
    rescheduled past quiet hours, a scheduled reminder) fails with 21610 instead of going
    out later. The confirmation of the STOP is written after this."""
    indexes = store.cipher.lookup_indexes(handset, "phone")
    for waiting in await message_queries.pending_to(session, account_id, indexes, now):
        moved = await tracker.move(
            session,
            waiting,
            Status.FAILED,
            now,
            "the recipient opted out (STOP) before it was sent",
            error_code=RecipientUnsubscribed.code,
            error_message="Attempt to send to unsubscribed recipient",
        )
        if moved:
            release(waiting, None)


def _inbound_row(
    store: Store, number: Number, handset: str, text: str, channel: str, now: datetime
) -> Message:
    # The customer's number goes in the sealed `recipient` column and ours in `sender`; the
    # view turns them round for inbound messages (services/messages.py).
    segmentation = segment(text) if text else None
    return Message(
        sid=ids.new_sid(ids.MESSAGE),
        account_id=number.account_id,
        direction="inbound",
        sender=number.phone_number,
        recipient=store.cipher.seal(handset, "message.to"),
        recipient_index=store.cipher.blind_index(handset, "phone"),
        body=store.cipher.seal(text, "message.body"),
        media_urls=[],
        status=Status.RECEIVED,
        channel=channel,
        encoding=str(segmentation.encoding) if segmentation else "GSM-7",
        num_segments=segmentation.segments if segmentation else 1,
        num_media=0,
        price_unit="USD",
        date_created=now,
        date_updated=now,
        date_sent=now,
        attempts=0,
    )
