"""Mobile-originated SMS from the SMSCs (deliver_sm that is not a receipt).

The SMSC gets its deliver_sm_resp once the message is written (the channel waits for
`heard`); a database that fails is tried again a few times, a second or so in all, then the
SMSC is told to offer the message again later (ESME_RX_T_APPN), so nothing is lost. A part
of a long text is written the same way, and waits for the others (services/inbound_parts.py).

A one-part text is noted as unconfirmed with it (store/unconfirmed_texts.py) until the
channel confirms that the SMSC read its answer. If the link or the process ends first, the
SMSC offers the text again on a later link, where the note tells it from a new text: it is
answered and not received twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.channels.base import Confirm, MessageHeard, PartHeard
from smsvia.domain.pricing import PriceBook
from smsvia.services import inbound, inbound_parts
from smsvia.services.clock import Clock, utcnow
from smsvia.services.delivery import Tracker
from smsvia.store import senders as sender_queries
from smsvia.store import unconfirmed_texts
from smsvia.store.context import Store
from smsvia.store.models import Message, Number, UnconfirmedText

log = logging.getLogger(__name__)

ATTEMPTS = 3  # 0.5 s, then 1 s: well inside an SMSC's wait for the deliver_sm_resp
# How long a long text waits for its missing parts before it is received without them.
LONG_TEXT_WAIT = 300.0
# How long after its answer an SMSC may offer a text again (on its next bind, as a rule).
# A later offer is received as a new text: a duplicate hurts less than a text lost.
OFFERED_AGAIN_WITHIN = timedelta(minutes=10)


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
        self._forgetting: set[asyncio.Task[None]] = set()

    async def heard(self, heard: MessageHeard | PartHeard) -> Confirm | None:
        """Returns once the message is stored, with what to call once the SMSC surely has
        its answer; raises if it could not be stored (the SMSC keeps it)."""
        delay = 0.5
        for attempt in range(1, ATTEMPTS + 1):
            try:
                noted = await self._store(heard)
                return None if noted is None else partial(self._confirmed, noted)
            except Exception:
                if attempt == ATTEMPTS:
                    raise
                log.warning("inbound SMS on %s not stored yet; retrying", heard.connector)
                await asyncio.sleep(delay)
                delay *= 2

    async def sweep(self) -> None:
        """What the dispatch does every few seconds: long texts overdue, old notes."""
        await self.receive_overdue()
        await self.forget_old_notes()

    async def receive_overdue(self) -> None:
        """Long texts that waited too long for their missing parts, received without them."""
        now = self.clock()
        await inbound_parts.receive_overdue(
            self.store, self.tracker, self.price_book, before=now - self.long_text_wait, now=now
        )

    async def forget_old_notes(self) -> None:
        """Unconfirmed texts older than any offer again: their links ended unconfirmed
        (the SMSC had read the answer, or did not offer them again)."""
        async with self.store.db.transaction() as session:
            await unconfirmed_texts.forget_before(session, self.clock() - OFFERED_AGAIN_WITHIN)

    async def _store(self, heard: MessageHeard | PartHeard) -> int | None:
        """Store what was heard; the note of a one-part text, unconfirmed, if it has one."""
        async with self.store.db.transaction() as session:
            number = await _our_number(session, heard)
            if number is None:
                return None
            handset = heard.source.read(home=number.phone_number)
            if isinstance(heard, MessageHeard) and heard.link:
                return await self._receive_once(session, heard, number, handset)
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
                return None
            await self._receive(session, heard, number, handset)
            return None

    async def _receive_once(
        self, session: AsyncSession, heard: MessageHeard, number: Number, handset: str
    ) -> int:
        """Receive the text unless it is one whose answer an earlier link may have lost,
        offered again; either way note it, unconfirmed, on this link."""
        cipher, now = self.store.cipher, self.clock()
        offered = await unconfirmed_texts.take_offered(
            session,
            number_id=number.id,
            source_indexes=cipher.lookup_indexes(handset, "phone"),
            body_indexes=cipher.lookup_indexes(heard.text, "text"),
            link=heard.link,
            since=now - OFFERED_AGAIN_WITHIN,
        )
        if offered is None:
            sid = (await self._receive(session, heard, number, handset)).sid
        else:
            sid = offered.message_sid
            log.info(
                "a text to %s offered again on %s: already received as %s",
                number.phone_number,
                heard.connector,
                sid,
            )
        note = UnconfirmedText(
            number_id=number.id,
            source_index=cipher.blind_index(handset, "phone"),
            body_index=cipher.blind_index(heard.text, "text"),
            link=heard.link,
            message_sid=sid,
            received_at=now,
        )
        return await unconfirmed_texts.keep(session, note)

    async def _receive(
        self, session: AsyncSession, heard: MessageHeard, number: Number, handset: str
    ) -> Message:
        return await inbound.receive(
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

    async def close(self) -> None:
        """Once the channels are closed: the notes of texts just confirmed, forgotten."""
        if self._forgetting:
            await asyncio.wait(self._forgetting, timeout=5)

    def _confirmed(self, noted: int) -> None:
        task = asyncio.ensure_future(self._forget(noted))
        self._forgetting.add(task)
        task.add_done_callback(self._forgetting.discard)

    async def _forget(self, noted: int) -> None:
        try:
            async with self.store.db.transaction() as session:
                await unconfirmed_texts.forget(session, [noted])
        except Exception:
            log.warning(
                "a confirmed text's note not forgotten; it expires in %s", OFFERED_AGAIN_WITHIN
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
