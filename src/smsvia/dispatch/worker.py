"""Claim due messages, submit their parts, record what happened: two transactions a batch.

A part is marked `sending` in the claiming transaction, before anything reaches the SMSC.
If the worker dies before it records the answer, the next worker finds the part still
`sending` and marks it ambiguous: it may have gone out, so it is never sent again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia import metrics
from smsvia.channels.base import PartOutcome, PartResult, SmsChannel, SmsSubmission
from smsvia.dispatch.rcs import RcsFlow, RcsJob, RcsOutcome
from smsvia.domain.encoding import Part, segment, to_parts
from smsvia.domain.quiet_hours import RuleBook
from smsvia.domain.rendering import sms_text
from smsvia.domain.status import FINAL, Status
from smsvia.services.clock import Clock, utcnow
from smsvia.services.compliance import held_for_quiet_hours, load_rules
from smsvia.services.delivery import Tracker
from smsvia.store import outbox
from smsvia.store.context import Store
from smsvia.store.models import Message, MessagePart

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
    channel: SmsChannel
    submission: SmsSubmission


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
        async with self.store.db.transaction() as session:
            messages = await outbox.claim_due_messages(
                session,
                owner=self.owner,
                now=now,
                lease_until=lease_until,
                limit=self.config.batch_size,
            )
            if not messages:
                return 0
            claimed = len(messages)
            messages = await self._hold_for_quiet_hours(session, messages, now)
            rcs_first = [m for m in messages if m.channel == "rcs"]
            sms = [m for m in messages if m.channel != "rcs"]
            rcs_jobs = [
                job for message in rcs_first if (job := await self.rcs.plan(session, message, now))
            ]
            parts = _by_message(await outbox.parts_of(session, [m.id for m in sms]))
            jobs = [
                job
                for message in sms
                if (job := await self._prepare(session, message, parts[message.id], now))
            ]
        results, rcs_results = await asyncio.gather(
            asyncio.gather(*(self._submit(job) for job in jobs)),
            asyncio.gather(*(self.rcs.act(job) for job in rcs_jobs)),
        )
        if jobs or rcs_jobs:
            await self._record(jobs, results, rcs_jobs, rcs_results)
        return claimed

    # -- claiming transaction ------------------------------------------------------------

    async def _hold_for_quiet_hours(
        self, session: AsyncSession, messages: Sequence[Message], now: datetime
    ) -> Sequence[Message]:
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
                self.tracker.note(session, message, now, "quiet_hours", why)
                outbox.release(message, at)
        return [m for m in messages if m.id not in held]

    async def _prepare(
        self, session: AsyncSession, message: Message, parts: list[MessagePart], now: datetime
    ) -> _Job | None:
        status = Status(message.status)
        if status in FINAL or status not in (Status.QUEUED, Status.SCHEDULED, Status.SENDING):
            outbox.release(message, None)
            return None
        if status == Status.SCHEDULED:
            await self.tracker.move(session, message, Status.QUEUED, now, "send time reached")
        for part in parts:
            if part.status == "sending":
                part.status = "ambiguous"
                self.tracker.note(
                    session,
                    message,
                    now,
                    "ambiguous",
                    f"part {part.sequence}: a worker stopped before the SMSC's answer was "
                    "recorded; it may have gone out, so it is not sent again",
                )
        if not parts:
            parts = self._create_parts(session, message)
        pending = [part for part in parts if part.status == "pending"]
        if not pending:
            await self._finish(session, message, parts, now)
            return None
        if message.expires_at is not None and now > message.expires_at:
            await self.tracker.move(
                session,
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
            self.tracker.note(session, message, now, "waiting", "its connector is not running")
            outbox.release(message, self._retry_at(message, now))
            return None
        for part in pending:
            part.status = "sending"
        await self.tracker.move(session, message, Status.SENDING, now, f"via {channel.name}")
        wanted = {part.sequence for part in pending}
        return _Job(
            message.id,
            channel,
            SmsSubmission(
                reference=message.sid,
                source=message.sender,
                destination=self.store.cipher.open(message.recipient, "message.to"),
                parts=tuple(p for p in self._encode(message) if p.sequence in wanted),
            ),
        )

    def _create_parts(self, session: AsyncSession, message: Message) -> list[MessagePart]:
        parts = [
            MessagePart(
                message_id=message.id,
                sequence=part.sequence,
                connector_id=message.connector_id,
                status="pending",
            )
            for part in self._encode(message)
        ]
        session.add_all(parts)
        return parts

    def _encode(self, message: Message) -> tuple[Part, ...]:
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
        async with self.store.db.transaction() as session:
            ids = [job.message_id for job in jobs]
            rcs_ids = [job.message_id for job in rcs_jobs]
            messages = {m.id: m for m in await outbox.messages_for_update(session, ids + rcs_ids)}
            parts = _by_message(await outbox.parts_of(session, ids))
            for job, outcome in zip(jobs, results, strict=True):
                message = messages.get(job.message_id)
                if message is None:
                    continue  # deleted meanwhile
                if message.lease_owner != self.owner:
                    log.warning("lost the lease on %s before recording its submit", message.sid)
                await self._apply(session, message, parts[message.id], outcome, now)
            for rcs_job, rcs_result in zip(rcs_jobs, rcs_results, strict=True):
                message = messages.get(rcs_job.message_id)
                if message is not None:
                    await self.rcs.record(session, message, rcs_job, rcs_result, now)

    async def _apply(
        self,
        session: AsyncSession,
        message: Message,
        parts: list[MessagePart],
        results: list[PartResult],
        now: datetime,
    ) -> None:
        by_sequence = {part.sequence: part for part in parts}
        for result in results:
            part = by_sequence[result.sequence]
            if result.outcome == PartOutcome.ACCEPTED:
                part.status, part.smsc_message_id = "submitted", result.smsc_message_id
                part.submitted_at = now
            elif result.outcome == PartOutcome.AMBIGUOUS:
                part.status = "ambiguous"
                self.tracker.note(
                    session, message, now, "ambiguous", f"part {part.sequence}: {result.detail}"
                )
            elif result.outcome == PartOutcome.REJECTED:
                part.status, part.error_code = "failed", result.error_code
            else:
                part.status = "pending"
        failed = next((r for r in results if r.outcome == PartOutcome.REJECTED), None)
        if failed is not None:
            await self.tracker.move(
                session,
                message,
                Status.FAILED,
                now,
                failed.detail,
                error_code=failed.error_code,
                error_message=failed.detail,
            )
            outbox.release(message, None)
        elif any(part.status == "pending" for part in parts):
            why = next((r.detail for r in results if r.outcome != PartOutcome.ACCEPTED), "")
            await self.tracker.move(session, message, Status.QUEUED, now, f"will retry: {why}")
            outbox.release(message, self._retry_at(message, now))
        else:
            await self._finish(session, message, parts, now)

    async def _finish(
        self, session: AsyncSession, message: Message, parts: list[MessagePart], now: datetime
    ) -> None:
        """Every part is submitted or ambiguous: the message is sent."""
        ids = ", ".join(p.smsc_message_id or "?" for p in parts)
        await self.tracker.move(session, message, Status.SENT, now, f"SMSC ids {ids}")
        outbox.release(message, None)

    def _retry_at(self, message: Message, now: datetime) -> datetime:
        delay = min(
            self.config.retry_initial * 2 ** max(message.attempts - 1, 0), self.config.retry_max
        )
        return now + timedelta(seconds=delay)


def _by_message(parts: Sequence[MessagePart]) -> defaultdict[int, list[MessagePart]]:
    grouped: defaultdict[int, list[MessagePart]] = defaultdict(list)
    for part in parts:
        grouped[part.message_id].append(part)
    return grouped
