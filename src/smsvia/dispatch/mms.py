"""MMS first, SMS with a preview link as the fallback: the worker's steps for a message whose
channel is `mms`.

1. Fetch and fit the media (services/media.py). One that cannot be fetched, is of a type
   MMS does not carry, or cannot be made to fit fails the message with Twilio's code.
2. Journal the intent (dispatch/journal.py, as an SMS part numbered 0 on the MM7
   connector), write the message's Media rows, then SubmitReq: a delivery report may be
   applied before this worker records the answer, and a delivered MMS always lists its
   media. Accepted: `sent`, and the relay's MessageID waits for its delivery report like an
   SMSC id for its receipt (dispatch/receipts.py).
3. Refused by the relay (an MM7 error): SMS with the text and the preview link
   (`mms_error`), priced as that SMS, and without Media rows. Not taken for now: tried
   again, up to
   `MAX_ATTEMPTS`, then SMS too. No answer: it may have gone, so it is never sent again.

As for SMPP and RCS, talking to the relay happens between the claiming and the recording
transaction: `plan` in the first, `act` outside, `record` in the second. A worker that died
after the intent was written leaves the message `sending` with the part `sending`; the next
one finds it ambiguous and does not send it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.channels.base import PartOutcome, PartResult
from smsvia.channels.mm7 import Mm7Channel, MmsOutcome, MmsResult
from smsvia.dispatch.fallback import go_as_sms
from smsvia.dispatch.journal import PartGate, PartJournal, flag_unanswered
from smsvia.domain.encoding import segment
from smsvia.domain.media import MediaRefused
from smsvia.domain.mm7 import Attachment
from smsvia.domain.rendering import sms_text
from smsvia.domain.status import FINAL, Status
from smsvia.services.delivery import Changes, Tracker
from smsvia.services.media import MediaPipeline, Prepared
from smsvia.services.routing import preview_url
from smsvia.store import media as media_queries
from smsvia.store import outbox
from smsvia.store.context import Store
from smsvia.store.outbox import MessageRow, PartRow

log = logging.getLogger(__name__)

MMS_PART = 0  # the sequence an MMS's one submit has among its message's parts
MAX_ATTEMPTS = 3  # relay busy this many times: the SMS goes instead
RETRY_AFTER = timedelta(seconds=5)

_OUTCOMES = {
    MmsOutcome.ACCEPTED: PartOutcome.ACCEPTED,
    MmsOutcome.REFUSED: PartOutcome.REJECTED,
    MmsOutcome.RETRY: PartOutcome.RETRY,
    MmsOutcome.AMBIGUOUS: PartOutcome.AMBIGUOUS,
}


@dataclass(frozen=True, slots=True)
class MmsJob:
    message_id: int
    account_id: int
    channel: Mm7Channel
    sender: str
    recipient: str
    text: str
    media_urls: tuple[str, ...]
    gate: PartGate
    planned_at: datetime


@dataclass(frozen=True, slots=True)
class MmsDone:
    """What `act` found: the media (or why not), and the relay's answer if it was asked."""

    prepared: Prepared | None
    refused: MediaRefused | None
    result: MmsResult | None


class MmsFlow:
    def __init__(
        self,
        store: Store,
        channels: Mapping[int, Mm7Channel],
        tracker: Tracker,
        journal: PartJournal,
        media: MediaPipeline,
        public_url: str = "",
    ) -> None:
        self.store = store
        self.channels = channels
        self.tracker = tracker
        self.journal = journal
        self.media = media
        self.public_url = public_url  # where the fallback's preview link points

    # -- in the claiming transaction -----------------------------------------------------

    def plan(
        self, changes: Changes, message: MessageRow, parts: Sequence[PartRow], now: datetime
    ) -> MmsJob | None:
        status = Status(message.status)
        if status in FINAL or status not in (Status.QUEUED, Status.SCHEDULED, Status.SENDING):
            outbox.release(message, None)
            return None
        part = next((p for p in parts if p.sequence == MMS_PART), None)
        if part is not None and part.status != "pending":
            self._settle_earlier(changes, message, part, now)
            return None
        channel = self.channels.get(message.mms_connector_id or 0)
        if channel is None:
            changes.note(message, now, "waiting", "its MMS connector is not running")
            outbox.release(message, now + RETRY_AFTER)
            return None
        if status == Status.SCHEDULED:
            self.tracker.stage(changes, message, Status.QUEUED, now, "send time reached")
        self.tracker.stage(changes, message, Status.SENDING, now, f"MMS via {channel.name}")
        return MmsJob(
            message.id,
            message.account_id,
            channel,
            message.sender,
            self.store.cipher.open(message.recipient, "message.to"),
            self.store.cipher.open(message.body, "message.body"),
            tuple(message.media_urls or ()),
            PartGate(self.journal, message.id, message.mms_connector_id),
            now,
        )

    def _settle_earlier(
        self, changes: Changes, message: MessageRow, part: PartRow, now: datetime
    ) -> None:
        """An earlier attempt wrote the intent: what it came to decides, never a resend."""
        flag_unanswered(changes, message, (part,), now)
        if part.status == "failed":
            # Refused, and the worker stopped before the fallback was recorded.
            self._fall_back(changes, message, "mms_error", "the MMSC refused it", now)
            return
        if message.status not in FINAL:
            detail = f"MMSC id {part.smsc_message_id or '?'}"
            self.tracker.stage(changes, message, Status.SENT, now, detail)
        outbox.release(message, None)

    # -- talking to the relay --------------------------------------------------------------

    async def act(self, job: MmsJob) -> MmsDone:
        try:
            prepared = await self.media.prepare(job.media_urls, job.channel.config.max_bytes)
        except MediaRefused as exc:
            return MmsDone(None, exc, None)
        if not await job.gate.writing(MMS_PART):
            return MmsDone(prepared, None, None)  # no longer ours
        async with self.store.db.transaction() as session:
            rows = prepared.rows(job.account_id, job.message_id, job.planned_at)
            await media_queries.replace_media(session, job.message_id, rows)
        attachments = tuple(
            Attachment(medium.content_type, medium.data, f"media{n}")
            for n, medium in enumerate(prepared.media)
        )
        try:
            result = await job.channel.send(job.sender, job.recipient, job.text, attachments)
        except Exception as exc:  # a channel bug must not lose the batch
            log.exception("MM7 submit failed on message %d", job.message_id)
            result = MmsResult(MmsOutcome.AMBIGUOUS, detail=f"channel error: {exc}")
        job.gate.answered(
            PartResult(
                MMS_PART,
                _OUTCOMES[result.outcome],
                smsc_message_id=result.message_id,
                detail=result.detail,
            )
        )
        return MmsDone(prepared, None, result)

    # -- in the recording transaction ------------------------------------------------------

    async def record(
        self,
        session: AsyncSession,
        changes: Changes,
        message: MessageRow,
        done: MmsDone,
        now: datetime,
    ) -> None:
        if done.refused is not None:
            refused = done.refused
            self.tracker.stage(
                changes,
                message,
                Status.FAILED,
                now,
                refused.message,
                error_code=refused.code,
                error_message=refused.message,
            )
            outbox.release(message, None)
            return
        result = done.result
        if result is None:
            return  # taken over before it went out: the new owner sends it
        for medium in done.prepared.media if done.prepared else ():
            if medium.note:
                changes.note(message, now, "media", medium.note)
        if Status(message.status) in FINAL:
            outbox.release(message, None)  # its report beat this record
        elif result.outcome == MmsOutcome.ACCEPTED:
            self.tracker.stage(changes, message, Status.SENT, now, f"MMSC id {result.message_id}")
            outbox.release(message, None)
        elif result.outcome == MmsOutcome.AMBIGUOUS:
            changes.note(message, now, "ambiguous", f"{result.detail}; not sent again")
            self.tracker.stage(changes, message, Status.SENT, now, "MMSC answer unknown")
            outbox.release(message, None)
        elif result.outcome == MmsOutcome.REFUSED or message.attempts >= MAX_ATTEMPTS:
            await media_queries.drop_media(session, message.id)
            self._fall_back(changes, message, "mms_error", result.detail, now)
        else:
            self.tracker.stage(changes, message, Status.QUEUED, now, f"will retry: {result.detail}")
            outbox.release(message, now + RETRY_AFTER * message.attempts)

    def _fall_back(
        self, changes: Changes, message: MessageRow, reason: str, why: str, now: datetime
    ) -> None:
        """The SMS with the text and the preview link goes instead, priced as that SMS."""
        body = self.store.cipher.open(message.body, "message.body")
        link = preview_url(self.public_url, message.preview_token or "")
        as_sms = segment(sms_text(body, (link,)), smart_encoding=message.smart_encoded)
        message.encoding = str(as_sms.encoding)
        message.num_segments = as_sms.segments
        go_as_sms(self.tracker, changes, message, reason, why, now)
