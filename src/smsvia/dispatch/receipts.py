"""Delivery receipts: kept in the inbox as they arrive, then matched to their parts.

A receipt may come before the submit it answers is recorded (the SMSC was quick, our batch
was not); it then waits in the inbox and the sweep matches it a moment later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia import metrics
from smsvia.channels.base import ReceiptHeard
from smsvia.domain.receipt_ids import Candidate, IdHabit, ReceiptIds, lookup_keys, smsc_key
from smsvia.domain.receipts import Outcome, error_description, verdict_of
from smsvia.domain.status import Status
from smsvia.services.clock import Clock, utcnow
from smsvia.services.delivery import Changes, Tracker
from smsvia.store import outbox
from smsvia.store.context import Store
from smsvia.store.outbox import Handset, MessageRow, PartRow

# A row of the receipt inbox (store/models.py ReceiptInbox), as Core reads it.
Receipt = Row[Any]

log = logging.getLogger(__name__)

# A receipt nobody claims after this long is logged and set aside.
ORPHAN_AFTER = timedelta(hours=1)
# A stored receipt the matching loop has not tried after this long was left by a process
# that stopped; the sweep takes it.
UNTRIED_AFTER = timedelta(seconds=30)
# By then every submit answered before the receipt was sent has been recorded, so a fit
# that is not certain (a cross-base reading, another handset's part) is no stand-in.
SETTLE = timedelta(seconds=5)
# A part in one of these still waits for its receipt.
_WAITING = frozenset({"submitted", "ambiguous", "sending"})


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
        self.habits: dict[int, IdHabit] = {}
        # Untried receipts stored before this are a dead worker's: the sweep takes them.
        self._orphaned_before = datetime.min.replace(tzinfo=UTC)
        # Each with the future the channel waits on to answer the SMSC.
        self._queue: asyncio.Queue[tuple[ReceiptHeard, asyncio.Future[None]]] = asyncio.Queue()
        self._stored: asyncio.Queue[list[Receipt]] = asyncio.Queue()

    def configure(self, connector_id: int, setting: ReceiptIds) -> None:
        """How the connector's SMSC writes its ids (a change of setting starts afresh)."""
        if self.habit(connector_id).setting != setting:
            self.habits[connector_id] = IdHabit(setting)

    def habit(self, connector_id: int) -> IdHabit:
        habit = self.habits.get(connector_id)
        if habit is None:
            habit = self.habits[connector_id] = IdHabit()
        return habit

    def heard(self, receipt: ReceiptHeard) -> asyncio.Future[None]:
        """A receipt a channel heard; the future ends once it is in the inbox (the SMSC
        gets its deliver_sm_resp then) or fails if it could not be stored."""
        stored = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((receipt, stored))
        return stored

    async def run(self, stop: asyncio.Event) -> None:
        """Store receipts as they come; match them in a loop of their own.

        The SMSC waits for the inbox commit before it hears that we have a receipt, and it
        sends only so many before it waits, so storing never waits behind matching: the
        SMSC's window is one multi-row INSERT.
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

    def take_over_untried(self, now: datetime) -> None:
        """A worker is dead: the untried receipts stored before `now` may be its, which its
        matching loop will never reach; the next sweep takes them. (Any of a live worker's
        among them are matched twice at worst, which changes nothing: the second finds its
        part settled.)"""
        self._orphaned_before = max(self._orphaned_before, now)

    async def sweep(self) -> int:
        """Match inbox receipts that found no part before; returns how many were applied.

        Only rows the matching loop has tried (attempts > 0), or that it never reached
        (an old row, or one a dead worker left: `take_over_untried`), so the two never do
        the same work.
        """
        now = self.clock()
        async with self.store.db.transaction(batch=True) as session:
            pending = await outbox.unapplied_receipts(
                session,
                tried_before=now - timedelta(seconds=self.sweep_interval / 2),
                untried_before=max(now - UNTRIED_AFTER, self._orphaned_before),
                limit=self.batch_size,
            )
            matched = await self._apply(session, pending, now)
            orphans = [
                row
                for row in pending
                if row.id not in matched and now - row.received_at > ORPHAN_AFTER
            ]
            if orphans:
                await outbox.mark_receipts_tried(
                    session, [row.id for row in orphans], matched={r.id for r in orphans}, now=now
                )
            for row in orphans:
                metrics.RECEIPTS.labels("orphan").inc()
                log.warning("receipt %s matches no message; set aside", row.smsc_message_id)
        return len(matched)

    async def _next_batch(self) -> list[tuple[ReceiptHeard, asyncio.Future[None]]]:
        try:
            first = await asyncio.wait_for(self._queue.get(), 0.5)
        except TimeoutError:
            return []
        batch = [first]
        while len(batch) < self.batch_size and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _store(self, batch: list[tuple[ReceiptHeard, asyncio.Future[None]]]) -> None:
        now = self.clock()
        try:
            async with self.store.db.transaction() as session:
                rows = await outbox.store_receipts(
                    session, [self._row(heard, now) for heard, _ in batch]
                )
        except Exception as exc:
            log.exception("could not record %d receipts; the SMSC offers them again", len(batch))
            for _, stored in batch:
                if not stored.done():
                    stored.set_exception(exc)
            await asyncio.sleep(1)
            return
        for _, stored in batch:
            if not stored.done():
                stored.set_result(None)
        log.debug("stored %d receipts", len(rows))
        self._stored.put_nowait(list(rows))

    async def _apply_forever(self) -> None:
        while True:
            rows = await self._stored.get()
            while len(rows) < self.batch_size and not self._stored.empty():
                rows.extend(self._stored.get_nowait())
            now = self.clock()
            try:
                async with self.store.db.transaction(batch=True) as session:
                    await self._apply(session, rows, now)
            except Exception:
                log.exception("could not match %d stored receipts; the sweep will", len(rows))

    def _row(self, heard: ReceiptHeard, now: datetime) -> dict[str, Any]:
        recipient = heard.recipient
        return outbox.receipt_row(
            self.connector_ids[heard.connector],
            heard.receipt.message_id,
            heard.receipt.state,
            heard.receipt.error,
            self.store.cipher.blind_index(recipient, "phone") if recipient else "",
            received_at=now,
        )

    async def _apply(
        self, session: AsyncSession, rows: Sequence[Receipt], now: datetime
    ) -> set[int]:
        """Match receipts to their parts and settle the messages; returns the inbox ids of
        the receipts that matched.

        A handful of statements a batch, whatever its size: the parts by SMSC id, then
        their messages (locked) and all their parts; then what changed, written at once.
        """
        if not rows:
            return set()
        changes = Changes()
        found = await self._parts_for(session, rows, now)
        message_ids = {part.message_id for part in found.values()}
        messages = {m.id: m for m in await outbox.messages_for_update(session, message_ids)}
        parts: dict[int, list[PartRow]] = defaultdict(list)
        for part in await outbox.parts_of(session, message_ids):
            parts[part.message_id].append(part)
        by_id = {part.id: part for group in parts.values() for part in group}
        for row in rows:
            matched = found.get(row.id)
            # Gone since it was found: its message was deleted meanwhile, nothing to settle.
            part = by_id.get(matched.id) if matched is not None else None
            message = messages.get(part.message_id) if part is not None else None
            if part is None or message is None:
                metrics.RECEIPTS.labels("unmatched").inc()
                continue
            if part.status in ("delivered", "undelivered"):
                metrics.RECEIPTS.labels("repeated").inc()
                continue
            if part.status == "ambiguous":
                part.smsc_message_id = row.smsc_message_id
                part.smsc_key = smsc_key(row.smsc_message_id)
                changes.note(
                    message,
                    now,
                    "reconciled",
                    f"part {part.sequence}: a receipt for SMSC id {row.smsc_message_id} shows "
                    "the unanswered submit did go out",
                )
            verdict = verdict_of(row.state)
            metrics.RECEIPTS.labels(verdict.outcome.value).inc()
            if verdict.outcome != Outcome.DELIVERED:  # the SMSC's own words, in the timeline
                changes.note(message, now, "receipt", _as_written(part.sequence, row))
            if verdict.outcome == Outcome.PENDING:
                continue
            part.status = verdict.outcome.value
            part.error_code = verdict.error_code
            part.done_at = now
            self._settle(changes, message, parts[message.id], now)
        await outbox.save(session, by_id.values())
        await outbox.save(session, messages.values())
        await self.tracker.write(session, changes)
        await outbox.mark_receipts_tried(
            session, [row.id for row in rows], matched=set(found), now=now
        )
        return set(found)

    async def _parts_for(
        self, session: AsyncSession, rows: Sequence[Receipt], now: datetime
    ) -> dict[int, PartRow]:
        """The part each receipt answers, by inbox row id.

        By SMSC id, as the connector's habit reads it (domain/receipt_ids.py); a receipt that
        could mean two parts is left for later. A receipt no submit has the id of may answer
        an ambiguous part to the same handset: the submit whose answer was lost.
        """
        keys = {row.id: set(lookup_keys(row.smsc_message_id).values()) for row in rows}
        by_connector: dict[int, set[str]] = defaultdict(set)
        for row in rows:
            by_connector[row.connector_id].update(keys[row.id])
        candidates: dict[tuple[int, str], list[tuple[PartRow, Handset]]] = defaultdict(list)
        for connector_id, wanted in by_connector.items():
            for part, handset in await outbox.parts_by_smsc_keys(session, connector_id, wanted):
                candidates[(connector_id, part.smsc_key)].append((part, handset))
        found: dict[int, PartRow] = {}
        unmatched = []
        for row in rows:
            parts = {
                part.id: (part, handset)
                for key in keys[row.id]
                for part, handset in candidates.get((row.connector_id, key), ())
            }
            settled = now - row.received_at >= SETTLE
            if not parts:
                if settled:
                    unmatched.append(row)
                continue
            choice = self.habit(row.connector_id).choose(
                row.smsc_message_id,
                [
                    Candidate(
                        part.id,
                        part.smsc_message_id,
                        part.status in _WAITING,
                        self._same_handset(row.recipient_index, handset),
                    )
                    for part, handset in parts.values()
                ],
                settled=settled,
            )
            if choice.part_id is not None:
                found[row.id] = parts[choice.part_id][0]
            elif settled:
                log.debug("receipt %s: %s", row.smsc_message_id, choice.why)
        if unmatched:
            await self._reconcile(session, unmatched, found)
        return found

    async def _reconcile(
        self, session: AsyncSession, rows: list[Receipt], found: dict[int, PartRow]
    ) -> None:
        """Give receipts that match no SMSC id the ambiguous parts to the same handsets,
        oldest first, one part per receipt."""
        by_connector: dict[int, set[str]] = defaultdict(set)
        for row in rows:
            by_connector[row.connector_id].add(row.recipient_index)
        waiting: dict[int, list[tuple[PartRow, Handset]]] = defaultdict(list)
        for connector_id, indexes in by_connector.items():
            # While the master key rotates, a receipt's index and its part's may come from
            # two keys: take every ambiguous part on the connector (a window's worth at most).
            wanted = None if self.store.cipher.rotating else indexes
            waiting[connector_id] = await outbox.ambiguous_parts_for(session, connector_id, wanted)
        for row in rows:
            queue = waiting[row.connector_id]
            for position, (part, handset) in enumerate(queue):
                if self._same_handset(row.recipient_index, handset):
                    found[row.id] = part
                    del queue[position]
                    break

    def _same_handset(self, receipt_index: str, handset: Handset) -> bool | None:
        """Whether the receipt names the part's recipient (None: it names nobody)."""
        if not receipt_index:
            return None
        if receipt_index == handset.index:
            return True
        if not self.store.cipher.rotating:
            return False
        number = self.store.cipher.open(handset.sealed, "message.to")
        return receipt_index in self.store.cipher.lookup_indexes(number, "phone")

    def _settle(
        self, changes: Changes, message: MessageRow, parts: list[PartRow], now: datetime
    ) -> None:
        """Once every part has its receipt, the message is delivered or undelivered."""
        # Only the parts of the way it went: an MMS gone as SMS keeps its refused MM7 part.
        current = message.mms_connector_id if message.channel == "mms" else message.connector_id
        parts = [part for part in parts if part.connector_id == current]
        if any(part.status not in ("delivered", "undelivered") for part in parts):
            done = sum(part.status in ("delivered", "undelivered") for part in parts)
            changes.note(message, now, "receipt", f"{done} of {len(parts)} parts")
            return
        if message.status == Status.SENDING:
            # Every part's answer is journaled as it comes (dispatch/journal.py), so a quick
            # receipt can beat the worker's record of the batch: the message was sent.
            ids = ", ".join(part.smsc_message_id or "?" for part in parts)
            self.tracker.stage(changes, message, Status.SENT, now, f"SMSC ids {ids}")
        failed = next((p for p in parts if p.status == "undelivered"), None)
        if failed is None:
            self.tracker.stage(changes, message, Status.DELIVERED, now, "DLR DELIVRD")
            return
        # Twilio's words for the code (the state the SMSC wrote is the part's receipt note).
        description = error_description(failed.error_code)
        self.tracker.stage(
            changes,
            message,
            Status.UNDELIVERED,
            now,
            f"DLR: {description}",
            error_code=failed.error_code,
            error_message=description,
        )

    async def _sweep_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("receipt sweep failed")


def _as_written(sequence: int, receipt: Receipt) -> str:
    """A receipt as the SMSC wrote it, for the timeline: "part 1: EXPIRED err:027"."""
    said = f"part {sequence}: {receipt.state}"
    return f"{said} err:{receipt.error}" if receipt.error else said
