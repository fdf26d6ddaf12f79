"""RCS first, SMS as the fallback: the worker's steps for a message whose channel is `rcs`.

1. Check capability (cached by the channel). Not capable: SMS now (`not_rcs_capable`).
2. Send with the message SID as RBM's messageId, so sending again after a crash is
   harmless (409 counts as accepted). An error answer: SMS now (`rcs_error`). Accepted: the
   message is `sent` and comes due again when its fallback window ends.
3. At the window's end, unless DELIVERED came first (dispatch/rcs_events.py), revoke. Revoked:
   SMS (`rcs_not_delivered_in_time`). Refused because it was delivered: it stays RCS. A revoke
   that fails is tried again later; SMS never goes out unless RBM confirmed the revoke, so
   exactly one of the two reaches the phone.

Each step talks to RBM between two transactions, as SMPP submits do: `plan` in the claiming
one, `act` outside, `record` in the recording one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.channels.rcs import RbmChannel, RevokeOutcome, SendOutcome
from smsvia.dispatch.fallback import go_as_sms
from smsvia.domain.rcs_input import parse_rich_content
from smsvia.domain.status import FINAL, Status
from smsvia.services.delivery import Changes, Tracker
from smsvia.store import outbox
from smsvia.store.context import Store
from smsvia.store.outbox import MessageRow

log = logging.getLogger(__name__)

# RBM keeps trying to deliver until the TTL; ours outlives the fallback window by this much,
# so the platform never drops a message on its own before we revoke it.
TTL_MARGIN = 3600  # seconds
REVOKE_RETRY = timedelta(seconds=5)


class FallbackReason(StrEnum):
    NOT_RCS_CAPABLE = "not_rcs_capable"
    NOT_DELIVERED_IN_TIME = "rcs_not_delivered_in_time"
    RCS_ERROR = "rcs_error"


class RcsState(StrEnum):
    SENT = "sent"  # RBM accepted it
    UNCONFIRMED = "unconfirmed"  # sent, but RBM never answered: it may have it
    DELIVERED = "delivered"
    FELL_BACK = "fell_back"  # revoked or never sent; the SMS goes instead


class Step(StrEnum):
    SEND = "send"
    REVOKE = "revoke"


@dataclass(frozen=True, slots=True)
class RcsJob:
    message_id: int
    channel: RbmChannel
    msisdn: str
    message_sid: str
    step: Step
    content: dict | None = None  # RBM contentMessage, for SEND
    ttl: int = 0


@dataclass(frozen=True, slots=True)
class RcsOutcome:
    outcome: SendOutcome | RevokeOutcome | None  # None: not sent, the phone is not capable
    detail: str = ""
    capable: bool | None = None  # the capability answer, for SEND (None: RBM could not say)


class RcsFlow:
    def __init__(self, store: Store, channels: Mapping[int, RbmChannel], tracker: Tracker) -> None:
        self.store = store
        self.channels = channels
        self.tracker = tracker

    # -- in the claiming transaction -----------------------------------------------------

    def plan(self, changes: Changes, message: MessageRow, now: datetime) -> RcsJob | None:
        """What to do next with this claimed message, or None (released, or nothing)."""
        status = Status(message.status)
        state = message.rcs_state
        if status in FINAL:
            outbox.release(message, None)
            return None
        channel = self.channels.get(message.rcs_connector_id or 0)
        if channel is None:
            changes.note(message, now, "waiting", "its RCS connector is not running")
            outbox.release(message, now + REVOKE_RETRY)
            return None
        msisdn = self.store.cipher.open(message.recipient, "message.to")
        if state in (RcsState.SENT, RcsState.UNCONFIRMED):
            return RcsJob(message.id, channel, msisdn, message.sid, Step.REVOKE)
        if state is None and status in (Status.QUEUED, Status.SCHEDULED, Status.SENDING):
            if status == Status.SCHEDULED:
                self.tracker.stage(changes, message, Status.QUEUED, now, "send time reached")
            self.tracker.stage(changes, message, Status.SENDING, now, f"RCS via {channel.name}")
            assert message.rich_content is not None
            content = parse_rich_content(
                json.loads(self.store.cipher.open(message.rich_content, "message.rich_content"))
            )
            window = message.fallback_after or 60
            return RcsJob(
                message.id,
                channel,
                msisdn,
                message.sid,
                Step.SEND,
                content=content.to_rbm(),
                ttl=window + TTL_MARGIN,
            )
        outbox.release(message, None)
        return None

    # -- talking to RBM --------------------------------------------------------------------

    async def act(self, job: RcsJob) -> RcsOutcome:
        try:
            if job.step == Step.REVOKE:
                revoked = await job.channel.revoke(job.msisdn, job.message_sid)
                return RcsOutcome(revoked.outcome, revoked.detail)
            # A failed check (None) is no answer: sending tells us too (404).
            capable = await job.channel.capable(job.msisdn)
            if capable is False:
                return RcsOutcome(None, "the phone is not RCS-capable", capable=False)
            assert job.content is not None
            sent = await job.channel.send(job.msisdn, job.message_sid, job.content, job.ttl)
            return RcsOutcome(sent.outcome, sent.detail, capable=capable)
        except Exception as exc:  # a channel bug must not lose the batch
            log.exception("RCS %s failed on %s", job.step, job.message_sid)
            failed = RevokeOutcome.FAILED if job.step == Step.REVOKE else SendOutcome.UNANSWERED
            return RcsOutcome(failed, f"channel error: {exc}")

    # -- in the recording transaction ------------------------------------------------------

    async def record(
        self,
        session: AsyncSession,
        changes: Changes,
        message: MessageRow,
        job: RcsJob,
        result: RcsOutcome,
        now: datetime,
    ) -> None:
        if Status(message.status) in FINAL:
            # DELIVERED (or READ) was applied while we were talking to RBM: the phone has it,
            # and only the timeline still lacks what this step learned.
            if job.step == Step.SEND:
                changes.note(message, now, "capability", "RCS-capable")
                changes.note(message, now, "rcs_accepted", "RBM accepted it; DELIVERED came first")
            outbox.release(message, None)
            return
        if job.step == Step.SEND:
            await self._record_send(session, changes, message, result, now)
        else:
            await self._record_revoke(session, changes, message, result, now)

    async def _record_send(
        self,
        session: AsyncSession,
        changes: Changes,
        message: MessageRow,
        result: RcsOutcome,
        now: datetime,
    ) -> None:
        window = timedelta(seconds=message.fallback_after or 60)
        if result.outcome in (None, SendOutcome.NOT_CAPABLE):
            changes.note(message, now, "capability", "not RCS-capable")
            await self._fall_back(session, changes, message, FallbackReason.NOT_RCS_CAPABLE, now)
            return
        answer = "RCS-capable" if result.capable else "RBM could not say; sending anyway"
        changes.note(message, now, "capability", answer)
        if result.outcome == SendOutcome.ACCEPTED:
            message.rcs_state = RcsState.SENT
            self.tracker.stage(
                changes,
                message,
                Status.SENT,
                now,
                f"RCS accepted by RBM; SMS instead if not delivered by "
                f"{(now + window):%H:%M:%S} UTC",
            )
            outbox.release(message, now + window)
        elif result.outcome == SendOutcome.UNANSWERED:
            message.rcs_state = RcsState.UNCONFIRMED
            changes.note(
                message,
                now,
                "rcs_unconfirmed",
                f"{result.detail}; it may have gone out, so it is revoked, not resent, when "
                "the window ends",
            )
            outbox.release(message, now + window)
        else:  # refused, broken or never reached: RBM does not have it
            changes.note(message, now, "rcs_error", result.detail)
            await self._fall_back(session, changes, message, FallbackReason.RCS_ERROR, now)

    async def _record_revoke(
        self,
        session: AsyncSession,
        changes: Changes,
        message: MessageRow,
        result: RcsOutcome,
        now: datetime,
    ) -> None:
        if result.outcome == RevokeOutcome.REVOKED:
            changes.note(
                message,
                now,
                "revoked",
                f"not delivered within {message.fallback_after} s; RBM confirmed the revoke",
            )
            await self._fall_back(
                session, changes, message, FallbackReason.NOT_DELIVERED_IN_TIME, now
            )
        elif result.outcome == RevokeOutcome.GONE and message.rcs_state == RcsState.SENT:
            message.rcs_state = RcsState.DELIVERED
            self.tracker.stage(
                changes,
                message,
                Status.DELIVERED,
                now,
                "RBM refused the revoke: already delivered, so it stays RCS",
            )
            outbox.release(message, None)
        elif result.outcome == RevokeOutcome.GONE:
            # An unconfirmed send RBM knows nothing of: it never took it.
            changes.note(message, now, "rcs_error", "RBM never had the unconfirmed send")
            await self._fall_back(session, changes, message, FallbackReason.RCS_ERROR, now)
        else:
            changes.note(message, now, "revoke_failed", f"{result.detail}; trying again")
            outbox.release(message, now + REVOKE_RETRY)

    async def _fall_back(
        self,
        session: AsyncSession,
        changes: Changes,
        message: MessageRow,
        reason: FallbackReason,
        now: datetime,
    ) -> None:
        """The message goes out as SMS instead, priced as the SMS it now is."""
        message.rcs_state = RcsState.FELL_BACK
        go_as_sms(self.tracker, changes, message, reason, reason.value.replace("_", " "), now)
        await self.store.signal.notify(session)
