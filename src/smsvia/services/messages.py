"""Send messages: check, price, route and queue them (the Messages resource's create).

Reading, listing, canceling and deleting what was sent live in services/message_views.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from smsvia import metrics
from smsvia.domain.encoding import segment
from smsvia.domain.errors import DomainError, InvalidParameter
from smsvia.domain.links import Shortener
from smsvia.domain.phone import parse_phone
from smsvia.domain.pricing import PriceBook
from smsvia.domain.quiet_hours import RuleBook
from smsvia.domain.rcs import RichContent
from smsvia.domain.rcs_input import parse_rich_content
from smsvia.domain.rendering import mms_text, rich_sms_text, sms_text
from smsvia.domain.status import Status
from smsvia.services import routing
from smsvia.services.accounts import Principal
from smsvia.services.clock import Clock, utcnow
from smsvia.services.compliance import load_rules
from smsvia.services.intake import Intake, NewMessage, screen_batch, write_messages
from smsvia.services.message_views import MessageView, message_view
from smsvia.services.outbound_urls import check_callback_url, check_media_urls
from smsvia.services.outgoing import Outgoing
from smsvia.services.routing import sender_route
from smsvia.services.senders import normalize_sender
from smsvia.store.context import Store

DEFAULT_VALIDITY = 36_000  # seconds, Twilio's default and maximum
MAX_MEDIA = 10
MAX_SCHEDULE_AHEAD = timedelta(days=35)


@dataclass(frozen=True, slots=True)
class SendRequest:
    to: str | None
    sender: str | None
    body: str | None = None
    media_urls: Sequence[str] = ()
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    validity_period: int | None = None
    send_at: datetime | None = None
    schedule_type: str | None = None
    smart_encoded: bool = False
    category: str | None = None  # transactional (the default) | marketing
    shorten_urls: bool = False  # the body's links become tracked short links


CHANNELS = ("auto", "rcs", "sms")
CATEGORIES = (None, "transactional", "marketing")


@dataclass(frozen=True, slots=True)
class RichRequest:
    """A native API send (POST /v1/messages)."""

    to: str | None
    sender: str | None
    content: Mapping[str, Any]  # text, media_url, rich_card, carousel, suggestions
    channel: str = "auto"
    fallback_after_seconds: int | None = None
    status_callback: str | None = None
    category: str | None = None


async def send_message(
    store: Store,
    principal: Principal,
    request: SendRequest,
    *,
    price_book: PriceBook,
    default_region: str = "US",
    public_url: str = "",
    clock: Clock = utcnow,
    intake: Intake | None = None,
    allow_private_urls: bool = False,
) -> MessageView:
    """Validate, price and queue one outbound message; the worker sends it.

    Through `intake` it shares its transaction with concurrent sends (group commit).
    `public_url` is where short links and media preview pages point.
    """
    now = clock()
    outgoing = _check(request, price_book, default_region, now, public_url)
    await check_media_urls(outgoing.media, allow_private_urls)
    await check_callback_url(outgoing.status_callback, allow_private_urls)
    route = await sender_route(store, principal, outgoing.sender)
    outgoing = _rcs_first_if_possible(outgoing, route, price_book)
    outgoing = routing.media_first(outgoing, route, price_book, public_url)
    return await _queue(
        store, principal, NewMessage(principal, outgoing, route.connector_id, now), intake
    )


async def send_rich_message(
    store: Store,
    principal: Principal,
    request: RichRequest,
    *,
    price_book: PriceBook,
    public_url: str,
    default_region: str = "US",
    clock: Clock = utcnow,
    intake: Intake | None = None,
    allow_private_urls: bool = False,
) -> MessageView:
    """The native API's send: rich content, RCS first where the sender can, else SMS.

    The SMS a fallback sends is written now (title, text, link actions, a preview page for
    media) and smart-encoded, so it is priced before anything goes out.
    """
    now = clock()
    outgoing, content = rich_outgoing(request, price_book, public_url, default_region, now)
    await check_media_urls(content.media_urls, allow_private_urls)
    await check_callback_url(outgoing.status_callback, allow_private_urls)
    route = await sender_route(store, principal, outgoing.sender)
    outgoing = route_rich(outgoing, content, request, route, price_book)
    return await _queue(
        store, principal, NewMessage(principal, outgoing, route.connector_id, now), intake
    )


def rich_outgoing(
    request: RichRequest,
    price_book: PriceBook,
    public_url: str,
    default_region: str,
    now: datetime,
) -> tuple[Outgoing, RichContent]:
    """A native send checked and priced as the SMS it would be; its content parsed."""
    if request.channel not in CHANNELS:
        raise InvalidParameter(
            f"channel must be one of {', '.join(CHANNELS)}", code=21100, field="channel"
        )
    routing.check_fallback_after(request.fallback_after_seconds)
    content = parse_rich_content(request.content)
    token = routing.new_preview_token() if content.media_urls else None
    body = rich_sms_text(content, routing.preview_url(public_url, token) if token else None)
    sms = SendRequest(
        to=request.to,
        sender=request.sender,
        body=body,
        status_callback=request.status_callback,
        smart_encoded=True,
        category=request.category,
    )
    outgoing = replace(
        _check(sms, price_book, default_region, now),
        rich_content=content.to_json(),
        preview_token=token,
    )
    return outgoing, content


def route_rich(
    outgoing: Outgoing,
    content: RichContent,
    request: RichRequest,
    route: routing.SenderRoute,
    price_book: PriceBook,
) -> Outgoing:
    """RCS first where the sender has an RCS connector and the channel allows it; then
    media go by MMS where they can."""
    if request.channel != "sms" and route.rcs_connector_id is not None:
        return routing.rcs_first(
            outgoing,
            content,
            route,
            price_book,
            fallback_after=request.fallback_after_seconds,
        )
    if request.channel == "rcs":
        raise InvalidParameter(
            f"{outgoing.sender} has no RCS connector; send with channel auto or sms",
            code=21100,
            field="channel",
        )
    if content.media_urls:  # MMS where it can go, else the SMS with its preview link
        return routing.mms_or_link(
            outgoing, mms_text(content), content.media_urls, route, price_book
        )
    return outgoing


async def _queue(
    store: Store, principal: Principal, new: NewMessage, intake: Intake | None
) -> MessageView:
    if intake is None:
        intake = Intake(store, max_batch=1)
    message, event = await intake.write(new)
    return message_view(store, message, principal.account_sid, (event,))


def _rcs_first_if_possible(
    outgoing: Outgoing, route: routing.SenderRoute, price_book: PriceBook
) -> Outgoing:
    """A Twilio-API message from a sender with an RCS connector goes RCS first too."""
    if route.rcs_connector_id is None:
        return outgoing
    content = routing.content_from_twilio(outgoing.body, outgoing.media)
    if content is None:
        return outgoing
    return routing.rcs_first(outgoing, content, route, price_book)


async def send_messages(
    store: Store,
    principal: Principal,
    requests: Sequence[SendRequest],
    *,
    price_book: PriceBook,
    rules: RuleBook | None = None,
    default_region: str = "US",
    public_url: str = "",
    clock: Clock = utcnow,
    allow_private_urls: bool = False,
) -> list[str | DomainError]:
    """Queue many messages in one transaction (bulk sends, campaigns).

    Returns, in order, each message's SID or the error that kept it out; one bad request
    never stops the good ones.
    """
    now = clock()
    results: list[int | DomainError] = []  # index into `batch`, or why it was refused
    batch: list[NewMessage] = []
    for request in requests:
        try:
            outgoing = _check(request, price_book, default_region, now, public_url)
            await check_media_urls(outgoing.media, allow_private_urls)
            route = await sender_route(store, principal, outgoing.sender)
        except DomainError as exc:
            results.append(exc)
            continue
        outgoing = _rcs_first_if_possible(outgoing, route, price_book)
        outgoing = routing.media_first(outgoing, route, price_book, public_url)
        results.append(len(batch))
        batch.append(NewMessage(principal, outgoing, route.connector_id, now))
    async with store.db.transaction() as session:
        screened = await screen_batch(session, store, rules or load_rules(), batch)
        written = await write_messages(
            session, store, [new for new in screened if isinstance(new, NewMessage)]
        )
    sids = iter(message.sid for message, _ in written)
    outcomes = [new if isinstance(new, DomainError) else next(sids) for new in screened]
    for new in screened:
        if isinstance(new, NewMessage):
            metrics.MESSAGE_STATUS.labels(str(new.outgoing.status), new.outgoing.channel).inc()
    return [r if isinstance(r, DomainError) else outcomes[r] for r in results]


def _check(
    request: SendRequest,
    price_book: PriceBook,
    default_region: str,
    now: datetime,
    public_url: str = "",
) -> Outgoing:
    to = _recipient(request.to, default_region)
    body = request.body or ""
    urls: list[str] = []
    if request.shorten_urls and public_url:
        body = Shortener(public_url, urls)(body)
    media = _media(request.media_urls)
    if not body and not media:
        raise InvalidParameter("Message body is required.", code=21602, field="Body")
    status_callback = callback_url(request.status_callback)
    validity = _validity(request.validity_period)
    send_at = _schedule(request, now)
    if request.messaging_service_sid is not None:
        raise InvalidParameter(
            f"Messaging Service {request.messaging_service_sid} does not exist",
            code=21701,
            field="MessagingServiceSid",
        )
    if not request.sender:
        raise InvalidParameter("A 'From' phone number is required.", code=21603, field="From")
    if request.category not in CATEGORIES:
        raise InvalidParameter(
            "category must be transactional or marketing", code=21100, field="category"
        )
    sender = normalize_sender(request.sender, default_region)
    segmentation = segment(sms_text(body, media), smart_encoding=request.smart_encoded)
    quote = price_book.sms(to.region, segmentation.segments)
    start = send_at or now
    detail = (
        f"{segmentation.encoding}, {segmentation.segments} segment(s), "
        f"{quote.price} {quote.currency}" + (f", send at {send_at.isoformat()}" if send_at else "")
    )
    return Outgoing(
        to=to.e164,
        region=to.region,
        sender=sender,
        body=body,
        media=media,
        smart_encoded=request.smart_encoded,
        encoding=str(segmentation.encoding),
        segments=segmentation.segments,
        price=quote.price,
        currency=quote.currency,
        status=Status.SCHEDULED if send_at else Status.QUEUED,
        status_callback=status_callback,
        validity_period=request.validity_period,
        send_at=send_at,
        due_at=start,
        expires_at=start + timedelta(seconds=validity),
        detail=detail,
        category=request.category,
        links=tuple(urls),
    )


def _recipient(to: str | None, default_region: str):
    if not to:
        raise InvalidParameter("A 'To' phone number is required.", code=21604, field="To")
    return parse_phone(to, default_region)


def _media(urls: Sequence[str]) -> tuple[str, ...]:
    if len(urls) > MAX_MEDIA:
        raise InvalidParameter(
            f"At most {MAX_MEDIA} MediaUrl values are allowed", code=21623, field="MediaUrl"
        )
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidParameter(
                f"MediaUrl '{url}' is not an http(s) URL", code=21620, field="MediaUrl"
            )
    return tuple(urls)


def callback_url(url: str | None) -> str | None:
    """The URL as it will be requested: the signature covers it, so `host` becomes `host/`."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidParameter(
            f"StatusCallback '{url}' is not an http(s) URL", code=21609, field="StatusCallback"
        )
    return parts._replace(path=parts.path or "/").geturl()


def _validity(seconds: int | None) -> int:
    if seconds is None:
        return DEFAULT_VALIDITY
    if not 1 <= seconds <= DEFAULT_VALIDITY:
        raise InvalidParameter(
            f"ValidityPeriod must be between 1 and {DEFAULT_VALIDITY} seconds",
            code=90007,
            field="ValidityPeriod",
        )
    return seconds


def _schedule(request: SendRequest, now: datetime) -> datetime | None:
    if request.schedule_type is None and request.send_at is None:
        return None
    if request.schedule_type != "fixed":
        raise InvalidParameter(
            "ScheduleType must be 'fixed' (with SendAt) to schedule a message",
            code=35126,
            field="ScheduleType",
        )
    if request.send_at is None:
        raise InvalidParameter(
            "SendAt is required when ScheduleType is fixed", code=35111, field="SendAt"
        )
    if not now < request.send_at <= now + MAX_SCHEDULE_AHEAD:
        raise InvalidParameter(
            "SendAt must be in the future and at most 35 days ahead", code=35115, field="SendAt"
        )
    return request.send_at
