"""Delivery receipts: kept in the inbox as they arrive, then matched to their parts.

A receipt may come before the submit it answers is recorded (the SMSC was quick, our batch
was not); it then waits in the inbox and the sweep matches it a moment later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia import metrics
from smsvia.channels.base import Inbound, MessageHeard, ReceiptHeard
from smsvia.domain.receipts import (
    VERDICTS,
    Outcome,
    message_id_variants,
)
from smsvia.domain.status import Status
from smsvia.services.clock import Clock, utcnow
from smsvia.services.delivery import Tracker
from smsvia.store import outbox
from smsvia.store.context import Store
from smsvia.store.models import Message, MessagePart, ReceiptInbox

log = logging.getLogger(__name__)

# A receipt nobody claims after this long is logged and set aside.
ORPHAN_AFTER = timedelta(hours=1)


class ReceiptProcessor:
    def __init__(
        self,
        store: Store,
        tracker: Tracker,
        connector_ids: Mapping[str, int],
        *,
        clock: Clock = utcnow,
        batch_size: int = 500,
        sweep_interval: float = 1.0,
    ) -> None:
        self.store = store
        self.tracker = tracker
        self.connector_ids = connector_ids
        self.clock = clock
        self.batch_size = batch_size
        self.sweep_interval = sweep_interval
        self._queue: asyncio.Queue[ReceiptHeard] = asyncio.Queue()
        self._stored: asyncio.Queue[list[ReceiptInbox]] = asyncio.Queue()

    async def heard(self, inbound: Inbound) -> None:
        """The channels' inbound handler."""
        if isinstance(inbound, MessageHeard):
            log.info(
                "inbound message on %s from a handset (inbound handling comes later)",
                inbound.connector,
            )
            return
        await self._queue.put(inbound)

    async def run(self, stop: asyncio.Event) -> None:
        """Store receipts as they come; match them in a loop of their own.

        The SMSC has had its deliver_sm_resp before we see a receipt (smpp34 answers it
        itself), so until the inbox commit a crash loses the receipt. Storing therefore
        never waits behind matching: the window is one multi-row INSERT.
        """
        helpers = [
            asyncio.create_task(self._apply_forever(), name="receipts-apply"),
            asyncio.create_task(self._sweep_forever(stop), name="receipts-sweep"),
        ]
        try:
            while not stop.is_set():
                batch = await self._next_batch()
                if batch:
                    await self._store(batch)
        finally:
            for helper in helpers:
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await helper
            # Keep what is still queued: it is written to the inbox before we stop.
            rest = []
            while not self._queue.empty():
                rest.append(self._queue.get_nowait())
            if rest:
                await self._store(rest)

    async def sweep(self) -> int:
        """Match inbox receipts that found no part before; returns how many were applied."""
        now = self.clock()
        applied = 0
        async with self.store.db.transaction() as session:
            pending = await outbox.unapplied_receipts(
                session, now - timedelta(seconds=self.sweep_interval / 2), self.batch_size
            )
            for row in pending:
                if await self._apply(session, row, now):
                    applied += 1
                elif now - row.received_at > ORPHAN_AFTER:
                    row.applied_at = now
                    metrics.RECEIPTS.labels("orphan").inc()
                    log.warning("receipt %s matches no message; set aside", row.smsc_message_id)
        return applied

    async def _next_batch(self) -> list[ReceiptHeard]:
        try:
            first = await asyncio.wait_for(self._queue.get(), 0.5)
        except TimeoutError:
            return []
        batch = [first]
        while len(batch) < self.batch_size and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _store(self, batch: list[ReceiptHeard]) -> None:
        now = self.clock()
        rows = [self._row(heard, now) for heard in batch]
        try:
            async with self.store.db.transaction() as session:
                session.add_all(rows)
        except Exception:
            log.exception("could not record %d receipts; they will be retried", len(batch))
            for heard in batch:
                self._queue.put_nowait(heard)
            await asyncio.sleep(1)
            return
        log.debug("stored %d receipts", len(rows))
        self._stored.put_nowait(rows)

    async def _apply_forever(self) -> None:
        while True:
            rows = await self._stored.get()
            while len(rows) < self.batch_size and not self._stored.empty():
                rows.extend(self._stored.get_nowait())
            now = self.clock()
            try:
                async with self.store.db.transaction() as session:
                    for row in rows:
                        await self._apply(session, await session.merge(row, load=False), now)
            except Exception:
                log.exception("could not match %d stored receipts; the sweep will", len(rows))

    def _row(self, heard: ReceiptHeard, now: datetime) -> ReceiptInbox:
        return ReceiptInbox(
            connector_id=self.connector_ids[heard.connector],
            smsc_message_id=heard.receipt.message_id,
            state=heard.receipt.state,
            error=heard.receipt.error[:16],
            recipient_index=self.store.cipher.blind_index(heard.recipient, "phone"),
            received_at=now,
            attempts=0,
        )

    async def _apply(self, session: AsyncSession, row: ReceiptInbox, now: datetime) -> bool:
        row.attempts += 1
        part = await outbox.part_by_smsc_id(
            session, row.connector_id, message_id_variants(row.smsc_message_id)
        )
        reconciled = False
        if part is None:
            part = await outbox.ambiguous_part_for(session, row.connector_id, row.recipient_index)
            if part is None:
                metrics.RECEIPTS.labels("unmatched").inc()
                return False
            part.smsc_message_id = row.smsc_message_id
            reconciled = True
        row.applied_at = now
        if part.status in ("delivered", "undelivered"):
            metrics.RECEIPTS.labels("repeated").inc()
            return True
        message = await session.get(Message, part.message_id)
        assert message is not None
        if reconciled:
            self.tracker.note(
                session,
                message,
                now,
                "reconciled",
                f"part {part.sequence}: a receipt for SMSC id {row.smsc_message_id} shows the "
                "unanswered submit did go out",
            )
        verdict = VERDICTS.get(row.state, VERDICTS["UNKNOWN"])
        metrics.RECEIPTS.labels(verdict.outcome.value).inc()
        if verdict.outcome == Outcome.PENDING:
            self.tracker.note(
                session, message, now, "receipt", f"part {part.sequence}: {row.state}"
            )
            return True
        part.status = verdict.outcome.value
        part.error_code = verdict.error_code
        part.done_at = now
        await self._settle(session, message, now)
        return True

    async def _settle(self, session: AsyncSession, message: Message, now: datetime) -> None:
        """Once every part has its receipt, the message is delivered or undelivered."""
        parts: list[MessagePart] = list(await outbox.parts_of(session, [message.id]))
        if any(part.status not in ("delivered", "undelivered") for part in parts):
            done = sum(part.status in ("delivered", "undelivered") for part in parts)
            self.tracker.note(session, message, now, "receipt", f"{done} of {len(parts)} parts")
            return
        failed = next((p for p in parts if p.status == "undelivered"), None)
        if failed is None:
            await self.tracker.move(session, message, Status.DELIVERED, now, "DLR DELIVRD")
            return
        verdict = next(v for v in VERDICTS.values() if v.error_code == failed.error_code)
        await self.tracker.move(
            session,
            message,
            Status.UNDELIVERED,
            now,
            f"DLR: {verdict.description}",
            error_code=failed.error_code,
            error_message=verdict.description,
        )

    async def _sweep_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("receipt sweep failed")
