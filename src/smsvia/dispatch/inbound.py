"""Mobile-originated SMS from the SMSCs (deliver_sm that is not a receipt).

The SMSC gets its deliver_sm_resp once the message is written (the channel waits for
`heard`); a database that fails is tried again a few times, a second or so in all, then the
SMSC is told to offer the message again later (ESME_RX_T_APPN), so nothing is lost. A part
of a long text is written the same way, and waits for the others (services/inbound_parts.py).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.channels.base import MessageHeard, PartHeard
from smsvia.domain.pricing import PriceBook
from smsvia.services import inbound, inbound_parts
from smsvia.services.clock import Clock, utcnow
from smsvia.services.delivery import Tracker
from smsvia.store import senders as sender_queries
from smsvia.store.context import Store
from smsvia.store.models import Number

log = logging.getLogger(__name__)

ATTEMPTS = 3  # 0.5 s, then 1 s: well inside an SMSC's wait for the deliver_sm_resp
# How long a long text waits for its missing parts before it is received without them.
LONG_TEXT_WAIT = 300.0


class InboundSms:
    def __init__(
        self,
        store: Store,
        tracker: Tracker,
        price_book: PriceBook,
        *,
        clock: Clock = utcnow,
        long_text_wait: float = LONG_TEXT_WAIT,
    ) -> None:
        self.store = store
        self.tracker = tracker
        self.price_book = price_book
        self.clock = clock
        self.long_text_wait = timedelta(seconds=long_text_wait)

    async def heard(self, heard: MessageHeard | PartHeard) -> None:
        """Returns once the message is stored; raises if it could not be (the SMSC keeps it)."""
        delay = 0.5
        for attempt in range(1, ATTEMPTS + 1):
            try:
                await self._store(heard)
                return
            except Exception:
                if attempt == ATTEMPTS:
                    raise
                log.warning("inbound SMS on %s not stored yet; retrying", heard.connector)
                await asyncio.sleep(delay)
                delay *= 2

    async def receive_overdue(self) -> None:
        """Long texts that waited too long for their missing parts, received without them."""
        now = self.clock()
        await inbound_parts.receive_overdue(
            self.store, self.tracker, self.price_book, before=now - self.long_text_wait, now=now
        )

    async def _store(self, heard: MessageHeard | PartHeard) -> None:
        async with self.store.db.transaction() as session:
            number = await _our_number(session, heard)
            if number is None:
                return
            handset = heard.source.read(home=number.phone_number)
            if isinstance(heard, PartHeard):
                await inbound_parts.receive_part(
                    session,
                    self.store,
                    self.tracker,
                    self.price_book,
                    number=number,
                    handset=handset,
                    part=heard.part,
                    connector=heard.connector,
                    now=self.clock(),
                )
                return
            await inbound.receive(
                session,
                self.store,
                self.tracker,
                self.price_book,
                number=number,
                handset=handset,
                text=heard.text,
                channel="sms",
                now=self.clock(),
            )


async def _our_number(session: AsyncSession, heard: MessageHeard | PartHeard) -> Number | None:
    """The number the text was sent to. One written nationally names no country: it is the
    connector's number that it reads as in that number's own country, if only one does."""
    written = heard.destination
    number = await sender_queries.number_by_phone(session, written.read())
    if number is None and written.national:
        numbers = await sender_queries.numbers_on_connector(session, heard.connector)
        named = [number for number in numbers if written.names(number.phone_number)]
        if len(named) > 1:
            log.warning(
                "inbound SMS on %s to %s, which is %s written nationally; dropped",
                heard.connector,
                written.address,
                " and ".join(number.phone_number for number in named),
            )
            return None
        number = named[0] if named else None
    if number is None:
        log.warning(
            "inbound SMS on %s to %s, which is nobody's number; dropped",
            heard.connector,
            written.address,
        )
    return number
