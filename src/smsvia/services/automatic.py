"""Texts the server sends by itself: a keyword's answer, an opt-in confirmation, a welcome.

Each is a transactional SMS from the number the person wrote to (or signed up for), written
in the caller's transaction. They skip the compliance checks on purpose: they answer
something the person just did, and the answer to STOP must reach someone who opted out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain.encoding import segment
from smsvia.domain.errors import DomainError
from smsvia.domain.phone import parse_phone
from smsvia.domain.pricing import PriceBook
from smsvia.domain.status import Status
from smsvia.services.accounts import Principal
from smsvia.services.intake import NewMessage, write_messages
from smsvia.services.outgoing import Outgoing
from smsvia.store.context import Store
from smsvia.store.models import Number

log = logging.getLogger(__name__)

_VALIDITY = timedelta(hours=4)


async def send(
    session: AsyncSession,
    store: Store,
    price_book: PriceBook,
    number: Number,
    account_sid: str,
    handset: str,
    text: str,
    now: datetime,
) -> None:
    """Queue `text` to `handset` from `number`; a text that cannot be sent is logged."""
    try:
        outgoing = _as_sms(number, handset, text, price_book, now)
    except DomainError as exc:
        log.warning("cannot text %s from %s: %s", handset, number.phone_number, exc.message)
        return
    principal = Principal(number.account_id, account_sid, "", account_sid)
    await write_messages(
        session, store, [NewMessage(principal, outgoing, number.connector_id, now)]
    )


def _as_sms(
    number: Number, handset: str, text: str, price_book: PriceBook, now: datetime
) -> Outgoing:
    """The automatic answer, as a plain SMS from the number that was written to."""
    destination = parse_phone(handset)
    segmentation = segment(text, smart_encoding=True)
    quote = price_book.sms(destination.region, segmentation.segments)
    return Outgoing(
        to=destination.e164,
        region=destination.region,
        sender=number.phone_number,
        body=text,
        media=(),
        smart_encoded=True,
        encoding=str(segmentation.encoding),
        segments=segmentation.segments,
        price=quote.price,
        currency=quote.currency,
        status=Status.QUEUED,
        status_callback=None,
        validity_period=None,
        send_at=None,
        due_at=now,
        expires_at=now + _VALIDITY,
        detail=f"automatic reply, {segmentation.encoding}, {segmentation.segments} segment(s)",
        category="transactional",
    )
