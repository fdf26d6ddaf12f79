"""Mobile-originated SMS from the SMSCs (deliver_sm that is not a receipt).

smpp34 has acknowledged the deliver_sm before we see it, so the message is written at once;
a database that fails is tried again (with backoff) before the next one is read.
"""

from __future__ import annotations

import asyncio
import logging

from smsvia.channels.base import MessageHeard
from smsvia.domain.pricing import PriceBook
from smsvia.services import inbound
from smsvia.services.clock import Clock, utcnow
from smsvia.services.delivery import Tracker
from smsvia.store import senders as sender_queries
from smsvia.store.context import Store

log = logging.getLogger(__name__)

ATTEMPTS = 6  # 0.5 s doubling: about half a minute


class InboundSms:
    def __init__(
        self, store: Store, tracker: Tracker, price_book: PriceBook, *, clock: Clock = utcnow
    ) -> None:
        self.store = store
        self.tracker = tracker
        self.price_book = price_book
        self.clock = clock

    async def heard(self, heard: MessageHeard) -> None:
        delay = 0.5
        for attempt in range(1, ATTEMPTS + 1):
            try:
                await self._store(heard)
                return
            except Exception:
                if attempt == ATTEMPTS:
                    log.exception("inbound SMS on %s could not be stored; lost", heard.connector)
                    return
                log.warning("inbound SMS on %s not stored yet; retrying", heard.connector)
                await asyncio.sleep(delay)
                delay *= 2

    async def _store(self, heard: MessageHeard) -> None:
        async with self.store.db.transaction() as session:
            number = await sender_queries.number_by_phone(session, heard.destination)
            if number is None:
                log.warning(
                    "inbound SMS on %s to %s, which is nobody's number; dropped",
                    heard.connector,
                    heard.destination,
                )
                return
            await inbound.receive(
                session,
                self.store,
                self.tracker,
                self.price_book,
                number=number,
                handset=heard.source,
                text=heard.text,
                channel="sms",
                now=self.clock(),
            )
