"""Claim due messages, submit their parts, record what happened: two transactions a batch.

A message is `sending` once the claiming transaction commits, before anything reaches the
SMSC. Each part's intent is committed just before it goes on the wire and its answer just
after (dispatch/journal.py, in group commits); the recording transaction then settles the
messages. If the worker dies, the next one finds the message still `sending`: a part with an
intent and no answer may have gone out, so it is flagged ambiguous and never sent again;
a part with no intent never left, and is sent now.

Both transactions read Core rows (store/rows.py) and write a whole batch's changes in a few
statements; a message costs some attribute and dict work, not an ORM flush of its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia import metrics
from smsvia.channels.base import PartOutcome, PartResult, SmsChannel, SmsSubmission
from smsvia.channels.mm7 import Mm7Channel
from smsvia.dispatch.journal import PART_STATUS, PartGate, PartJournal, flag_unanswered
from smsvia.dispatch.mms import MmsDone, MmsFlow, MmsJob
from smsvia.dispatch.rcs import RcsFlow, RcsJob, RcsOutcome
from smsvia.domain.encoding import Part, segment, to_parts
from smsvia.domain.quiet_hours import RuleBook
from smsvia.domain.rendering import sms_text
from smsvia.domain.status import FINAL, Status
from smsvia.services.clock import Clock, utcnow
from smsvia.services.compliance import held_for_quiet_hours, load_rules
from smsvia.services.delivery import Changes, Tracker
from smsvia.services.media import MediaPipeline
from smsvia.services.routing import preview_url
from smsvia.store import outbox
from smsvia.store.context import Store
from smsvia.store.outbox import MessageRow, PartRow
from smsvia.store.presence import new_owner

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
    submission: SmsSubmission  # its gate journals the parts as they go
    # SMSC ids of the parts an earlier attempt settled, by sequence (see Worker._finish).
    earlier: dict[int, str | None]


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
        mms_channels: Mapping[int, Mm7Channel] | None = None,
        media: MediaPipeline | None = None,
        public_url: str = "",
    ) -> None:
        self.store = store
        self.rules = rules or load_rules()
        self.channels = channels
        self.tracker = tracker
        self.rcs = rcs or RcsFlow(store, {}, tracker)
        self.owner = owner or new_owner()
        self.config = config or WorkerConfig()
        self.clock = clock
        self.public_url = public_url  # media preview links in SMS point here
        self.journal = PartJournal(store, self.owner, clock=clock)
        self.mms = MmsFlow(
            store,
            mms_channels if mms_channels is not None else {},
            tracker,
            self.journal,
            media or MediaPipeline(store),
            public_url,
        )

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
        changes = Changes()
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
            ready = await self._hold_for_quiet_hours(session, changes, messages, now)
            rcs_jobs = [
                job
                for message in ready
                if message.channel == "rcs" and (job := self.rcs.plan(changes, message, now))
            ]
            others = [message for message in ready if message.channel != "rcs"]
            recorded = _by_message(await outbox.parts_of(session, [m.id for m in others]))
            mms_jobs = [
                job
                for message in others
                if message.channel == "mms"
                and (job := self.mms.plan(changes, message, recorded[message.id], now))
            ]
            jobs = [
                job
                for message in others
                if message.channel != "mms"
                and (job := self._prepare(changes, message, _sms_parts(message, recorded), now))
            ]
            await outbox.save(session, messages)
            await outbox.save(session, [part for parts in recorded.values() for part in parts])
            await self.tracker.write(session, changes)
        results, rcs_results, mms_results = await asyncio.gather(
            asyncio.gather(*(self._submit(job) for job in jobs)),
            asyncio.gather(*(self.rcs.act(job) for job in rcs_jobs)),
            asyncio.gather(*(self.mms.act(job) for job in mms_jobs)),
        )
        if jobs or rcs_jobs or mms_jobs:
            await self._record(jobs, results, (rcs_jobs, rcs_results), (mms_jobs, mms_results))
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
        self, changes: Changes, message: MessageRow, recorded: list[PartRow], now: datetime
    ) -> _Job | None:
        status = Status(message.status)
        if status in FINAL or status not in (Status.QUEUED, Status.SCHEDULED, Status.SENDING):
            outbox.release(message, None)
            return None
        if status == Status.SCHEDULED:
            self.tracker.stage(changes, message, Status.QUEUED, now, "send time reached")
        encoded = self._encode(message)
        parts = {part.sequence: part for part in recorded}
        if status == Status.SENDING:
            flag_unanswered(changes, message, parts.values(), now)
        pending = [
            part
            for part in encoded
            if part.sequence not in parts or parts[part.sequence].status == "pending"
        ]
        recorded_now = [parts[p.sequence] for p in encoded if p.sequence in parts]
        earlier = {
            part.sequence: _smsc_id(part.smsc_message_id, accepted=part.status != "ambiguous")
            for part in recorded_now
            if part.status != "pending"
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
                gate=PartGate(self.journal, message.id, message.connector_id),
            ),
            earlier=earlier,
        )

    def _encode(self, message: MessageRow) -> tuple[Part, ...]:
        """The exact parts; the same every time, so a retry resends identical bytes."""
        body = self.store.cipher.open(message.body, "message.body")
        links = tuple(message.media_urls or ())
        if links and message.preview_token:  # an MMS gone as SMS: its preview page
            links = (preview_url(self.public_url, message.preview_token),)
        text = sms_text(body, links)
        return to_parts(segment(text, smart_encoding=message.smart_encoded), message.id % 256)

    # -- submitting ----------------------------------------------------------------------

    async def _submit(self, job: _Job) -> list[PartResult]:
        started = time.perf_counter()
        submission = job.submission
        gate = submission.gate
        assert isinstance(gate, PartGate)
        try:
            results = await job.channel.submit(submission)
        except Exception as exc:  # a channel bug must not lose the batch
            log.exception("channel %s failed on %s", job.channel.name, submission.reference)
            results = [
                PartResult(part.sequence, PartOutcome.AMBIGUOUS, detail=f"channel error: {exc}")
                for part in submission.parts
            ]
        results = gate.close(results)
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
        rcs: tuple[Sequence[RcsJob], Sequence[RcsOutcome]],
        mms: tuple[Sequence[MmsJob], Sequence[MmsDone]],
    ) -> None:
        await self.journal.flush()  # the parts' answers are in before their messages move
        now = self.clock()
        changes = Changes()
        rcs_jobs, rcs_results = rcs
        async with self.store.db.transaction(batch=True) as session:
            ids = [job.message_id for job in (*jobs, *rcs_jobs, *mms[0])]
            messages = {m.id: m for m in await outbox.messages_for_update(session, ids)}
            for job, outcome in zip(jobs, results, strict=True):
                message = messages.get(job.message_id)
                if message is None:
                    continue  # deleted meanwhile
                if message.lease_owner != self.owner:
                    # Taken over: its parts' answers are journaled; the new owner settles it.
                    log.warning("%s was taken over before its submit was recorded", message.sid)
                    continue
                self._apply(changes, message, job, outcome, now)
            for rcs_job, rcs_result in zip(rcs_jobs, rcs_results, strict=True):
                message = messages.get(rcs_job.message_id)
                if message is not None:
                    await self.rcs.record(session, changes, message, rcs_job, rcs_result, now)
            for mms_job, done in zip(*mms, strict=True):
                message = messages.get(mms_job.message_id)
                if message is not None and message.lease_owner == self.owner:
                    await self.mms.record(session, changes, message, done, now)
            await outbox.save(session, messages.values())
            await self.tracker.write(session, changes)

    def _apply(
        self,
        changes: Changes,
        message: MessageRow,
        job: _Job,
        results: list[PartResult],
        now: datetime,
    ) -> None:
        """Settle the message on the SMSC's answers (its parts' rows are journaled)."""
        for result in results:
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
        elif any(PART_STATUS[r.outcome] == "pending" for r in results):
            why = next((r.detail for r in results if r.outcome != PartOutcome.ACCEPTED), "")
            self.tracker.stage(changes, message, Status.QUEUED, now, f"will retry: {why}")
            outbox.release(message, self._retry_at(message, now))
        else:
            ids = {
                **job.earlier,
                **{
                    r.sequence: _smsc_id(r.smsc_message_id, r.outcome == PartOutcome.ACCEPTED)
                    for r in results
                },
            }
            self._finish(changes, message, ids, now)

    def _finish(
        self, changes: Changes, message: MessageRow, smsc_ids: dict[int, str | None], now: datetime
    ) -> None:
        """Every part is submitted or ambiguous: the message is sent (unless its receipts
        were quicker, and settled it already). `smsc_ids` by part: its SMSC id, "" for a part
        the SMSC accepted without giving it one, None for an ambiguous part."""
        if Status(message.status) not in FINAL:
            ids = ", ".join(smsc_ids[sequence] or "?" for sequence in sorted(smsc_ids))
            detail = f"SMSC ids {ids}"
            unnamed = [sequence for sequence in sorted(smsc_ids) if smsc_ids[sequence] == ""]
            if unnamed:
                listed = ", ".join(map(str, unnamed))
                detail += f"; part {listed} accepted without a message id: no receipt can match"
            self.tracker.stage(changes, message, Status.SENT, now, detail)
        outbox.release(message, None)

    def _retry_at(self, message: MessageRow, now: datetime) -> datetime:
        delay = min(
            self.config.retry_initial * 2 ** max(message.attempts - 1, 0), self.config.retry_max
        )
        return now + timedelta(seconds=delay)


def _smsc_id(given: str | None, accepted: bool) -> str | None:
    """A part's SMSC id as `Worker._finish` reads it."""
    return (given or "") if accepted else None


def _sms_parts(message: MessageRow, recorded: Mapping[int, list[PartRow]]) -> list[PartRow]:
    """The message's parts on its SMS connector (an MMS gone as SMS has its MM7 one too)."""
    return [part for part in recorded[message.id] if part.connector_id == message.connector_id]


def _by_message(parts: Sequence[PartRow]) -> defaultdict[int, list[PartRow]]:
    grouped: defaultdict[int, list[PartRow]] = defaultdict(list)
    for part in parts:
        grouped[part.message_id].append(part)
    return grouped
