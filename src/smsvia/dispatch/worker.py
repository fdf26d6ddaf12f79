"""Claim due messages, submit their parts, record what happened: two transactions a batch.

A message is `sending` once the claiming transaction commits, before anything reaches the
SMSC; its parts are recorded with the SMSC's answers in the recording transaction. If the
worker dies in between, the next one finds the message still `sending`, its parts unrecorded
(or, on a retry, recorded `sending`), and flags them ambiguous: they may have gone out, so
they are never sent again.

Both transactions read Core rows (store/rows.py) and write a whole batch's changes in a few
statements; a message costs some attribute and dict work, not an ORM flush of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia import metrics
from smsvia.channels.base import PartOutcome, PartResult, SmsChannel, SmsSubmission
from smsvia.dispatch.rcs import RcsFlow, RcsJob, RcsOutcome
from smsvia.domain.encoding import Part, segment, to_parts
from smsvia.domain.quiet_hours import RuleBook
from smsvia.domain.receipt_ids import smsc_key
from smsvia.domain.rendering import sms_text
from smsvia.domain.status import FINAL, Status
from smsvia.services.clock import Clock, utcnow
from smsvia.services.compliance import held_for_quiet_hours, load_rules
from smsvia.services.delivery import Changes, Tracker
from smsvia.store import outbox
from smsvia.store.context import Store
from smsvia.store.outbox import MessageRow, PartRow

log = logging.getLogger(__name__)

EXPIRED = (30036, "Validity Period Expired")


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int = 200
    lease_seconds: float = 120.0
    poll_interval: float = 1.0
    retry_initial: float = 1.0
    retry_max: float = 60.0
    # Batches in flight at once: one is being submitted while another is recorded.
    lanes: int = 2


@dataclass(frozen=True)
class _Job:
    message_id: int
    connector_id: int | None
    channel: SmsChannel
    submission: SmsSubmission
    # SMSC ids of the parts an earlier attempt settled, by sequence (None: ambiguous).
    earlier: dict[int, str | None]


@dataclass
class _Claim:
    """What a claiming transaction writes besides the messages: timeline entries and
    callbacks, and the parts found unanswered after a crash."""

    changes: Changes
    unanswered: list[dict[str, Any]] = field(default_factory=list)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(
        self,
        store: Store,
        channels: Mapping[int, SmsChannel],
        tracker: Tracker,
        *,
        owner: str | None = None,
        config: WorkerConfig | None = None,
        clock: Clock = utcnow,
        rcs: RcsFlow | None = None,
        rules: RuleBook | None = None,
    ) -> None:
        self.store = store
        self.rules = rules or load_rules()
        self.channels = channels
        self.tracker = tracker
        self.rcs = rcs or RcsFlow(store, {}, tracker)
        self.owner = owner or worker_name()
        self.config = config or WorkerConfig()
        self.clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; sleep on the outbox signal when there is nothing due."""
        await self.store.signal.listen()
        await asyncio.gather(*(self._lane(stop) for _ in range(self.config.lanes)))

    async def _lane(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                claimed = await self.run_once()
            except Exception:
                log.exception("worker batch failed; retrying")
                claimed = 0
                await asyncio.sleep(self.config.poll_interval)
            if claimed == 0:
                await self.store.signal.wait(self.config.poll_interval)

    async def run_once(self) -> int:
        """One batch: claim, submit, record. Returns how many messages were claimed."""
        now = self.clock()
        lease_until = now + timedelta(seconds=self.config.lease_seconds)
        claim = _Claim(Changes())
        async with self.store.db.transaction(batch=True) as session:
            messages = await outbox.claim_due_messages(
                session,
                owner=self.owner,
                now=now,
                lease_until=lease_until,
                limit=self.config.batch_size,
            )
            if not messages:
                return 0
            ready = await self._hold_for_quiet_hours(session, claim.changes, messages, now)
            rcs_jobs = [
                job
                for message in ready
                if message.channel == "rcs" and (job := self.rcs.plan(claim.changes, message, now))
            ]
            sms = [message for message in ready if message.channel != "rcs"]
            recorded = _by_message(await outbox.parts_of(session, [m.id for m in sms]))
            jobs = [
                job
                for message in sms
                if (job := self._prepare(claim, message, recorded[message.id], now))
            ]
            await outbox.save(session, messages)
            await outbox.save(session, [part for parts in recorded.values() for part in parts])
            await outbox.record_parts(session, claim.unanswered)
            await self.tracker.write(session, claim.changes)
        results, rcs_results = await asyncio.gather(
            asyncio.gather(*(self._submit(job) for job in jobs)),
            asyncio.gather(*(self.rcs.act(job) for job in rcs_jobs)),
        )
        if jobs or rcs_jobs:
            await self._record(jobs, results, rcs_jobs, rcs_results)
        return len(messages)

    # -- claiming transaction ------------------------------------------------------------

    async def _hold_for_quiet_hours(
        self,
        session: AsyncSession,
        changes: Changes,
        messages: Sequence[MessageRow],
        now: datetime,
    ) -> Sequence[MessageRow]:
        """Intake timed marketing messages for allowed hours; one that waited in a backlog
        past the end of the day is held again here rather than sent at night."""
        marketing = [
            m
            for m in messages
            if m.category == "marketing" and m.status in (Status.QUEUED, Status.SCHEDULED)
        ]
        if not marketing:
            return messages
        held = await held_for_quiet_hours(session, self.store, self.rules, marketing, now)
        for message in messages:
            if message.id in held:
                at, why = held[message.id]
                changes.note(message, now, "quiet_hours", why)
                outbox.release(message, at)
        return [m for m in messages if m.id not in held]

    def _prepare(
        self, claim: _Claim, message: MessageRow, recorded: list[PartRow], now: datetime
    ) -> _Job | None:
        changes = claim.changes
        status = Status(message.status)
        if status in FINAL or status not in (Status.QUEUED, Status.SCHEDULED, Status.SENDING):
            outbox.release(message, None)
            return None
        if status == Status.SCHEDULED:
            self.tracker.stage(changes, message, Status.QUEUED, now, "send time reached")
        encoded = self._encode(message)
        parts = {part.sequence: part for part in recorded}
        flagged = (
            self._flag_unanswered(claim, message, encoded, parts, now)
            if status == Status.SENDING
            else set()
        )

        def waiting(sequence: int) -> bool:
            part = parts.get(sequence)
            return part.status == "pending" if part is not None else sequence not in flagged

        pending = [part for part in encoded if waiting(part.sequence)]
        earlier = {
            part.sequence: parts[part.sequence].smsc_message_id if part.sequence in parts else None
            for part in encoded
            if not waiting(part.sequence)
        }
        if not pending:
            self._finish(changes, message, earlier, now)
            return None
        if message.expires_at is not None and now > message.expires_at:
            self.tracker.stage(
                changes,
                message,
                Status.FAILED,
                now,
                "not sent within ValidityPeriod",
                error_code=EXPIRED[0],
                error_message=EXPIRED[1],
            )
            outbox.release(message, None)
            return None
        channel = self.channels.get(message.connector_id or 0)
        if channel is None:
            changes.note(message, now, "waiting", "its connector is not running")
            outbox.release(message, self._retry_at(message, now))
            return None
        for part in pending:
            if part.sequence in parts:
                parts[part.sequence].status = "sending"
        self.tracker.stage(changes, message, Status.SENDING, now, f"via {channel.name}")
        return _Job(
            message.id,
            message.connector_id,
            channel,
            SmsSubmission(
                reference=message.sid,
                source=message.sender,
                destination=self.store.cipher.open(message.recipient, "message.to"),
                parts=tuple(pending),
            ),
            earlier=earlier,
        )

    def _flag_unanswered(
        self,
        claim: _Claim,
        message: MessageRow,
        encoded: tuple[Part, ...],
        parts: dict[int, PartRow],
        now: datetime,
    ) -> set[int]:
        """The message was left `sending`: a worker stopped before it recorded the SMSC's
        answers. Its parts in flight (recorded `sending`, or not recorded at all on a first
        attempt) may have gone out, so they are ambiguous, never sent again. Returns the
        sequences of those that were not recorded (they are now, in `claim.unanswered`)."""
        unrecorded = set()
        for part in encoded:
            recorded = parts.get(part.sequence)
            if recorded is None:
                unrecorded.add(part.sequence)
                claim.unanswered.append(
                    _part_row(
                        message, part.sequence, "ambiguous", connector_id=message.connector_id
                    )
                )
            elif recorded.status == "sending":
                recorded.status = "ambiguous"
            else:
                continue
            claim.changes.note(
                message,
                now,
                "ambiguous",
                f"part {part.sequence}: a worker stopped before the SMSC's answer was "
                "recorded; it may have gone out, so it is not sent again",
            )
        return unrecorded

    def _encode(self, message: MessageRow) -> tuple[Part, ...]:
        """The exact parts; the same every time, so a retry resends identical bytes."""
        body = self.store.cipher.open(message.body, "message.body")
        text = sms_text(body, message.media_urls or ())
        return to_parts(segment(text, smart_encoding=message.smart_encoded), message.id % 256)

    # -- submitting ----------------------------------------------------------------------

    async def _submit(self, job: _Job) -> list[PartResult]:
        started = time.perf_counter()
        try:
            results = await job.channel.submit(job.submission)
        except Exception as exc:  # a channel bug must not lose the batch
            log.exception("channel %s failed on %s", job.channel.name, job.submission.reference)
            return [
                PartResult(part.sequence, PartOutcome.AMBIGUOUS, detail=f"channel error: {exc}")
                for part in job.submission.parts
            ]
        if results:
            elapsed = (time.perf_counter() - started) / len(results)
            for _ in results:
                metrics.SUBMIT_LATENCY.labels(job.channel.name).observe(elapsed)
        return results

    # -- recording transaction -----------------------------------------------------------

    async def _record(
        self,
        jobs: Sequence[_Job],
        results: Sequence[list[PartResult]],
        rcs_jobs: Sequence[RcsJob],
        rcs_results: Sequence[RcsOutcome],
    ) -> None:
        now = self.clock()
        changes = Changes()
        async with self.store.db.transaction(batch=True) as session:
            ids = [job.message_id for job in jobs] + [job.message_id for job in rcs_jobs]
            messages = {m.id: m for m in await outbox.messages_for_update(session, ids)}
            parts: list[dict[str, Any]] = []
            for job, outcome in zip(jobs, results, strict=True):
                message = messages.get(job.message_id)
                if message is None:
                    continue  # deleted meanwhile
                if message.lease_owner != self.owner:
                    log.warning("lost the lease on %s before recording its submit", message.sid)
                parts.extend(self._apply(changes, message, job, outcome, now))
            for rcs_job, rcs_result in zip(rcs_jobs, rcs_results, strict=True):
                message = messages.get(rcs_job.message_id)
                if message is not None:
                    await self.rcs.record(session, changes, message, rcs_job, rcs_result, now)
            await outbox.record_parts(session, parts)
            await outbox.save(session, messages.values())
            await self.tracker.write(session, changes)

    def _apply(
        self,
        changes: Changes,
        message: MessageRow,
        job: _Job,
        results: list[PartResult],
        now: datetime,
    ) -> list[dict[str, Any]]:
        """Settle the message on the SMSC's answers; returns its parts' rows to record."""
        rows = []
        for result in results:
            accepted = result.outcome == PartOutcome.ACCEPTED
            rows.append(
                _part_row(
                    message,
                    result.sequence,
                    _PART_STATUS[result.outcome],
                    connector_id=job.connector_id,
                    smsc_message_id=result.smsc_message_id,
                    error_code=result.error_code,
                    submitted_at=now if accepted else None,
                )
            )
            if result.outcome == PartOutcome.AMBIGUOUS:
                changes.note(message, now, "ambiguous", f"part {result.sequence}: {result.detail}")
        failed = next((r for r in results if r.outcome == PartOutcome.REJECTED), None)
        if failed is not None:
            self.tracker.stage(
                changes,
                message,
                Status.FAILED,
                now,
                failed.detail,
                error_code=failed.error_code,
                error_message=failed.detail,
            )
            outbox.release(message, None)
        elif any(row["status"] == "pending" for row in rows):
            why = next((r.detail for r in results if r.outcome != PartOutcome.ACCEPTED), "")
            self.tracker.stage(changes, message, Status.QUEUED, now, f"will retry: {why}")
            outbox.release(message, self._retry_at(message, now))
        else:
            ids = {**job.earlier, **{r.sequence: r.smsc_message_id for r in results}}
            self._finish(changes, message, ids, now)
        return rows

    def _finish(
        self,
        changes: Changes,
        message: MessageRow,
        smsc_ids: dict[int, str | None],
        now: datetime,
    ) -> None:
        """Every part is submitted or ambiguous: the message is sent."""
        ids = ", ".join(smsc_ids[sequence] or "?" for sequence in sorted(smsc_ids))
        self.tracker.stage(changes, message, Status.SENT, now, f"SMSC ids {ids}")
        outbox.release(message, None)

    def _retry_at(self, message: MessageRow, now: datetime) -> datetime:
        delay = min(
            self.config.retry_initial * 2 ** max(message.attempts - 1, 0), self.config.retry_max
        )
        return now + timedelta(seconds=delay)


_PART_STATUS = {
    PartOutcome.ACCEPTED: "submitted",
    PartOutcome.AMBIGUOUS: "ambiguous",
    PartOutcome.REJECTED: "failed",
    PartOutcome.RETRY: "pending",
    PartOutcome.NOT_SENT: "pending",
}


def _part_row(
    message: MessageRow,
    sequence: int,
    status: str,
    *,
    connector_id: int | None,
    smsc_message_id: str | None = None,
    error_code: int | None = None,
    submitted_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "message_id": message.id,
        "sequence": sequence,
        "connector_id": connector_id,
        "status": status,
        "smsc_message_id": smsc_message_id,
        "smsc_key": smsc_key(smsc_message_id) if smsc_message_id is not None else None,
        "error_code": error_code,
        "submitted_at": submitted_at,
        "done_at": None,
    }


def _by_message(parts: Sequence[PartRow]) -> defaultdict[int, list[PartRow]]:
    grouped: defaultdict[int, list[PartRow]] = defaultdict(list)
    for part in parts:
        grouped[part.message_id].append(part)
    return grouped
