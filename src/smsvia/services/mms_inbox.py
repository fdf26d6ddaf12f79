"""What an MMS relay posts to us (POST /mm7/{connector}): delivery reports and handsets'
messages, each stored before it is answered, so an answer with status 1000 means kept.

A report goes into the receipt inbox, named by the relay's MessageID; the receipt loop
(dispatch/receipts.py) matches it to the MMS's part as it matches SMSC receipts. An inbound
MMS is stored with its media and forwarded to the number's `sms_url` as Twilio does.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
from dataclasses import dataclass

from smsvia.domain import mm7
from smsvia.domain.errors import AuthenticationFailed, NotFound
from smsvia.domain.pricing import PriceBook
from smsvia.services import inbound
from smsvia.services.clock import Clock, utcnow
from smsvia.services.delivery import Tracker
from smsvia.services.senders import Mm7Settings, connector_password
from smsvia.store import outbox
from smsvia.store import senders as sender_queries
from smsvia.store.context import Store
from smsvia.store.models import Connector

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answered:
    """What to answer the relay with: the response's kind and its TransactionID."""

    kind: str  # DeliveryReportRsp | DeliverRsp
    transaction_id: str


async def receive(
    store: Store,
    tracker: Tracker,
    price_book: PriceBook,
    connector_name: str,
    request: mm7.DeliveryReport | mm7.Deliver,
    authorization: str | None,
    *,
    public_url: str,
    clock: Clock = utcnow,
) -> Answered:
    """Keep a report or an inbound MMS; NotFound for a connector that is not an MM7 one,
    AuthenticationFailed when the connector has credentials and the relay did not send
    them."""
    async with store.db.sessions() as session:
        connector = await sender_queries.connector_by_name(session, connector_name)
    if connector is None or connector.kind != "mm7":
        raise NotFound(f"No MM7 connector named '{connector_name}'")
    await _check_credentials(store, connector, authorization)
    if isinstance(request, mm7.DeliveryReport):
        await _keep_report(store, connector, request, clock)
        return Answered("DeliveryReportRsp", request.transaction_id)
    await _keep_message(store, tracker, price_book, connector, request, public_url, clock)
    return Answered("DeliverRsp", request.transaction_id)


async def _check_credentials(store: Store, connector: Connector, authorization: str | None) -> None:
    """The relay signs in with the connector's own user and password, when it has them."""
    username = Mm7Settings.of(connector.settings).username
    if username is None:
        return
    password = await connector_password(store, connector)
    expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    if not hmac.compare_digest((authorization or "").encode(), expected.encode()):
        raise AuthenticationFailed(f"the MMSC did not sign in as {connector.name}'s user")


async def _keep_report(
    store: Store, connector: Connector, report: mm7.DeliveryReport, clock: Clock
) -> None:
    now = clock()
    async with store.db.transaction() as session:
        await outbox.store_receipts(
            session,
            [
                outbox.receipt_row(
                    connector.id,
                    report.message_id,
                    report.state,
                    report.mm_status,
                    (
                        store.cipher.blind_index(report.recipient, "phone")
                        if report.recipient
                        else ""
                    ),
                    received_at=now,
                    # Stored by the web process, which has no matching loop: tried once as
                    # far as the receipt sweep is concerned, so its next pass takes it.
                    attempts=1,
                )
            ],
        )


async def _keep_message(
    store: Store,
    tracker: Tracker,
    price_book: PriceBook,
    connector: Connector,
    deliver: mm7.Deliver,
    public_url: str,
    clock: Clock,
) -> None:
    digests = await asyncio.to_thread(
        lambda: [store.media.save(attachment.data) for attachment in deliver.attachments]
    )
    kept = [
        inbound.Kept(attachment.content_type, digest, len(attachment.data))
        for attachment, digest in zip(deliver.attachments, digests, strict=True)
    ]
    async with store.db.transaction() as session:
        number = await sender_queries.number_by_phone(session, deliver.recipient)
        if number is None:
            log.warning(
                "inbound MMS on %s to %s, which is nobody's number; dropped",
                connector.name,
                deliver.recipient,
            )
            return
        await inbound.receive(
            session,
            store,
            tracker,
            price_book,
            number=number,
            handset=deliver.sender,
            text=deliver.text,
            channel="mms",
            now=clock(),
            media=kept,
            public_url=public_url,
        )
