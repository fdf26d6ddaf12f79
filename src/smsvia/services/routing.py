"""Which way a new message goes: SMS, or RCS first with SMS as the fallback.

A sender with an RCS connector sends RCS first (the fallback rule of DESIGN.md); the message
is priced both ways up front, as RCS and as the SMS it becomes if the phone cannot take it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, replace
from functools import partial

from smsvia.domain.encoding import segment
from smsvia.domain.errors import DomainError, InvalidParameter
from smsvia.domain.pricing import Billed, PriceBook
from smsvia.domain.rcs import RichContent
from smsvia.domain.rcs_input import parse_rich_content
from smsvia.domain.rendering import sms_text
from smsvia.services.accounts import Principal
from smsvia.services.outgoing import Outgoing
from smsvia.store import accounts as account_queries
from smsvia.store import senders as sender_queries
from smsvia.store.context import Store

MIN_FALLBACK, MAX_FALLBACK = 1, 86_400  # seconds an RCS message may wait for DELIVERED
MMS_REGIONS = frozenset({"US", "CA"})  # where MMS reaches, as Twilio's does

# Looked up once per SENDER_TTL: every send needs it, and it changes only when an operator
# changes the numbers. A refusal is not kept, so a number just added is usable at once.
# When the entry runs out, the sends that want it meanwhile wait for one look-up, not one each
# (50 at once under load, every SENDER_TTL).
SENDER_TTL = 10.0
_Key = tuple[str, int, str]
_routes: dict[_Key, tuple[float, SenderRoute]] = {}
_looking_up: dict[tuple[asyncio.AbstractEventLoop, _Key], asyncio.Future[SenderRoute | None]] = {}


@dataclass(frozen=True, slots=True)
class SenderRoute:
    connector_id: int  # SMS
    rcs_connector_id: int | None
    fallback_seconds: int  # the account's window
    mms_connector_id: int | None = None


async def sender_route(store: Store, principal: Principal, sender: str) -> SenderRoute:
    """The connectors of the account's sender `sender`; 21606 when it is not one."""
    key = (store.db.url, principal.account_id, sender)
    cached = _routes.get(key)
    if cached is not None and time.monotonic() - cached[0] <= SENDER_TTL:
        return cached[1]
    in_flight = (asyncio.get_running_loop(), key)
    lookup = _looking_up.get(in_flight)
    if lookup is None:
        lookup = asyncio.ensure_future(_look_up(store, key))
        _looking_up[in_flight] = lookup
        lookup.add_done_callback(partial(_looked_up, in_flight))
    route = await asyncio.shield(lookup)  # one caller going away does not cancel the rest
    if route is None:
        raise InvalidParameter(
            f"The 'From' number {sender} is not a sender of this account",
            code=21606,
            field="From",
        )
    return route


def _looked_up(in_flight, lookup: asyncio.Future[SenderRoute | None]) -> None:
    del _looking_up[in_flight]
    if not lookup.cancelled():
        lookup.exception()  # seen: when every caller went away, nobody else looks at it


async def _look_up(store: Store, key: _Key) -> SenderRoute | None:
    """The route from the database, kept for SENDER_TTL; None if it is not a sender."""
    _, account_id, sender = key
    started = time.monotonic()
    async with store.db.sessions() as session:
        number = await sender_queries.sender_of_account(session, account_id, sender)
        account = await account_queries.account_by_id(session, account_id)
    if number is None or account is None:
        return None
    route = SenderRoute(
        number.connector_id,
        number.rcs_connector_id,
        account.rcs_fallback_seconds,
        number.mms_connector_id,
    )
    if len(_routes) > 10_000:
        _routes.clear()
    _routes[key] = (started, route)
    return route


def rcs_first(
    outgoing: Outgoing,
    content: RichContent,
    route: SenderRoute,
    price_book: PriceBook,
    *,
    fallback_after: int | None = None,
) -> Outgoing:
    """The same message, sent by RCS first; its SMS price is kept for a fallback."""
    assert route.rcs_connector_id is not None
    window = fallback_after if fallback_after is not None else route.fallback_seconds
    billed = Billed.RCS_BASIC if content.is_basic else Billed.RCS_SINGLE
    quote = price_book.quote(outgoing.region, billed)
    return replace(
        outgoing,
        channel="rcs",
        rcs_connector_id=route.rcs_connector_id,
        rich_content=content.to_json(),
        fallback_after=window,
        fallback_price=outgoing.price,
        price=quote.price,
        detail=(
            f"RCS first ({billed.value.replace('_', ' ')}, {quote.price} {quote.currency}); "
            f"if not delivered within {window} s, SMS: {outgoing.detail}"
        ),
    )


def media_first(
    outgoing: Outgoing, route: SenderRoute, price_book: PriceBook, public_url: str
) -> Outgoing:
    """A Twilio-API message with media that is not going RCS: an MMS where the sender has
    an MM7 connector and MMS reaches the recipient's country, else an SMS with the text and
    a link to a preview page of the media ("Sent as SMS via server", `mms_not_supported`).
    Both are priced up front: the MMS, and the SMS it becomes if the MMSC refuses it."""
    if not outgoing.media or outgoing.channel == "rcs":
        return outgoing
    token = new_preview_token()
    linked = segment(
        sms_text(outgoing.body, (preview_url(public_url, token),)),
        smart_encoding=outgoing.smart_encoded,
    )
    sms = price_book.sms(outgoing.region, linked.segments)
    content = content_from_twilio(outgoing.body, outgoing.media)
    as_sms = replace(
        outgoing,
        encoding=str(linked.encoding),
        segments=linked.segments,
        price=sms.price,
        preview_token=token,
        rich_content=(content or _pictures_only(outgoing.media)).to_json(),
        detail=(
            f"{linked.encoding}, {linked.segments} segment(s) with a preview link, "
            f"{sms.price} {sms.currency}"
        ),
    )
    return mms_or_link(as_sms, outgoing.body, outgoing.media, route, price_book)


def mms_or_link(
    as_sms: Outgoing,
    text: str,
    media: tuple[str, ...],
    route: SenderRoute,
    price_book: PriceBook,
) -> Outgoing:
    """`as_sms` (the SMS with a preview link, priced) sent as an MMS of `text` and `media`
    where MMS can go; else that SMS, "Sent as SMS via server" (`mms_not_supported`)."""
    if route.mms_connector_id is not None and as_sms.region in MMS_REGIONS:
        mms = price_book.mms(as_sms.region)
        return replace(
            as_sms,
            channel="mms",
            body=text,
            media=media,
            mms_connector_id=route.mms_connector_id,
            segments=1,
            price=mms.price,
            fallback_price=as_sms.price,
            detail=(
                f"MMS, {len(media)} media, {mms.price} {mms.currency}; "
                f"if the MMSC refuses it, SMS: {as_sms.detail}"
            ),
        )
    why = "no MMS connector" if route.mms_connector_id is None else "MMS does not reach it"
    return replace(
        as_sms,
        fallback_reason="mms_not_supported",
        detail=f"Sent as SMS via server ({why}): {as_sms.detail}",
    )


def _pictures_only(media: tuple[str, ...]) -> RichContent:
    """A preview page's content when the text cannot be a card's (too long for RBM)."""
    return parse_rich_content({"rich_card": {"media_url": media[0]}})


def check_fallback_after(seconds: int | None) -> int | None:
    if seconds is not None and not MIN_FALLBACK <= seconds <= MAX_FALLBACK:
        raise InvalidParameter(
            f"fallback_after_seconds must be between {MIN_FALLBACK} and {MAX_FALLBACK}",
            code=21100,
            field="fallback_after_seconds",
        )
    return seconds


def content_from_twilio(body: str, media: tuple[str, ...]) -> RichContent | None:
    """A Twilio-API message as RCS: text, one picture as a card, several as a carousel.
    None when RBM would refuse it (then it goes as SMS only)."""
    if not media:
        payload: dict[str, object] = {"text": body}
    elif len(media) == 1:
        payload = {"rich_card": {"description": body, "media_url": media[0]}}
    else:
        cards: list[dict[str, str]] = [{"media_url": url} for url in media]
        if body:
            cards[0]["description"] = body
        payload = {"carousel": cards}
    try:
        return parse_rich_content(payload)
    except DomainError:
        return None


def new_preview_token() -> str:
    """The key of a hosted preview page (/m/{token}); short, as it is paid for per SMS."""
    return secrets.token_urlsafe(9)


def preview_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/m/{token}"
