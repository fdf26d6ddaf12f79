"""Apply the events RBM pushed (stored by the webhook): statuses, replies and taps.

DELIVERED and READ move the message and end its fallback window. A user's reply or tap on a
suggestion is an inbound message (services/inbound.py: keywords, forwarding to `sms_url`).
IS_TYPING and anything unknown are marked done and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.dispatch.rcs import RcsState
from smsvia.domain.pricing import PriceBook
from smsvia.domain.status import Status
from smsvia.services import inbound
from smsvia.services.clock import Clock, utcnow
from smsvia.services.delivery import Tracker
from smsvia.store import rcs_events as queries
from smsvia.store.context import Store
from smsvia.store.models import Message, RcsEvent

log = logging.getLogger(__name__)

STATUS_EVENTS = ("DELIVERED", "READ")


class RcsEventProcessor:
    def __init__(
        self,
        store: Store,
        tracker: Tracker,
        price_book: PriceBook,
        *,
        clock: Clock = utcnow,
        poll_interval: float = 0.2,
        batch_size: int = 200,
    ) -> None:
        self.store = store
        self.tracker = tracker
        self.price_book = price_book
        self.clock = clock
        self.poll_interval = poll_interval
        self.batch_size = batch_size

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                applied = await self.run_once()
            except Exception:
                log.exception("could not apply RBM events; retrying")
                applied = 0
            if applied < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_interval)

    async def run_once(self) -> int:
        now = self.clock()
        async with self.store.db.transaction() as session:
            rows = await queries.claim_unprocessed(session, self.batch_size)
            events = [
                (row, json.loads(self.store.cipher.open(row.payload, "rcs_event.payload")))
                for row in rows
            ]
            messages = await queries.rcs_messages(
                session,
                {
                    (row.connector_id, str(event.get("messageId")))
                    for row, event in events
                    if event.get("eventType") in STATUS_EVENTS
                },
            )
            for row, event in events:
                await self._apply(session, row, event, messages, now)
                row.processed_at = now
        return len(rows)

    async def _apply(
        self,
        session: AsyncSession,
        row: RcsEvent,
        event: dict[str, Any],
        messages: dict[tuple[int, str], Message],
        now: datetime,
    ) -> None:
        kind = event.get("eventType")
        if kind in STATUS_EVENTS:
            message = messages.get((row.connector_id, str(event.get("messageId"))))
            await self._status(session, message, kind, now)
        elif kind is None and ("text" in event or "suggestionResponse" in event):
            await self._user_message(session, row.connector_id, event, now)

    async def _status(
        self, session: AsyncSession, message: Message | None, kind: str, now: datetime
    ) -> None:
        if message is None:
            log.info("RBM %s for a message we do not know; ignored", kind)
            return
        if message.rcs_state == RcsState.FELL_BACK:
            # RBM confirmed the revoke before the SMS went; this must not happen.
            log.error("RBM says %s for %s after its revoke was confirmed", kind, message.sid)
            self.tracker.note(session, message, now, "rcs_after_revoke", f"RBM: {kind}")
            return
        message.rcs_state = RcsState.DELIVERED
        message.due_at = None  # delivered: no fallback
        if kind == "DELIVERED":
            await self.tracker.move(session, message, Status.DELIVERED, now, "RBM: DELIVERED")
        else:
            if message.status in (Status.SENDING, Status.SENT):
                await self.tracker.move(session, message, Status.DELIVERED, now, "RBM: READ")
            await self.tracker.move(session, message, Status.READ, now, "RBM: READ")

    async def _user_message(
        self, session: AsyncSession, connector_id: int, event: dict[str, Any], now: datetime
    ) -> None:
        number = await queries.number_on_rcs_connector(session, connector_id)
        if number is None:
            log.warning("an RCS user message arrived on a connector no sender uses; dropped")
            return
        tap = event.get("suggestionResponse")
        text = str(tap.get("text", "")) if isinstance(tap, dict) else str(event.get("text", ""))
        extra = {}
        if isinstance(tap, dict):
            extra = {"ButtonText": text, "ButtonPayload": str(tap.get("postbackData", ""))}
        await inbound.receive(
            session,
            self.store,
            self.tracker,
            self.price_book,
            number=number,
            handset=str(event.get("senderPhoneNumber", "")),
            text=text,
            channel="rcs",
            now=now,
            extra_params=extra,
        )
