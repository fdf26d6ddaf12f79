"""Late answers to submits: what a part left ambiguous really became.

A submit_sm unanswered within the response timeout leaves its part ambiguous: it may have
gone out, so it is never sent again, and its receipt is matched by handset. When the SMSC
answers after all, on the same session, the answer settles the doubt:

* accepted: the part takes the SMSC's id, so its receipt matches it exactly;
* refused for good: the part never went out, and its message failed with the refusal's code;
* refused for now (throttled, queue full): the part never went out, and it goes out again.

The answer can overtake the worker: the part is ambiguous in the database only once the
worker's journal commits its timeout (a few milliseconds later), and a refusal may change
the message only once no worker holds it. Until then the answer waits, a moment at a time,
up to `WAIT`; after that the part is left as it was (ambiguous, matched by handset).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import datetime, timedelta

from smsvia.channels.base import AnsweredLate, PartOutcome
from smsvia.domain.receipt_ids import smsc_key
from smsvia.domain.status import FINAL, Status
from smsvia.services.clock import Clock, utcnow
from smsvia.services.delivery import Changes, Tracker
from smsvia.store import outbox
from smsvia.store.context import Store
from smsvia.store.outbox import MessageRow, PartRow

log = logging.getLogger(__name__)

WAIT = 60.0  # seconds an answer waits for the worker to be done with its message
POLL = 0.1  # seconds between looks meanwhile
# A part refused for now goes out again this long after the refusal.
RETRY_AFTER = timedelta(seconds=1)

# What an ambiguous part can have become before its late answer came.
_UNNAMED = frozenset({"ambiguous", "delivered", "undelivered"})
# Not settled yet: the worker has not recorded the timeout, or still holds the message.
_NOT_YET = "not yet"


class LateAnswers:
    def __init__(
        self,
        store: Store,
        tracker: Tracker,
        connector_ids: Mapping[str, int],
        *,
        clock: Clock = utcnow,
        wait: float = WAIT,
        poll: float = POLL,
    ) -> None:
        self.store = store
        self.tracker = tracker
        self.connector_ids = connector_ids
        self.clock = clock
        self.wait = wait
        self.poll = poll

    async def heard(self, late: AnsweredLate) -> None:
        """Settle the part on the late answer; returns once that is committed, or once it
        is clear there is nothing to settle."""
        connector_id = self.connector_ids.get(late.connector)
        if connector_id is None:
            return
        give_up = time.monotonic() + self.wait
        while (settled := await self._settle(connector_id, late)) == _NOT_YET:
            if time.monotonic() >= give_up:
                log.warning(
                    "%s part %d: the SMSC's late answer came while the message was still "
                    "being sent; left ambiguous",
                    late.reference,
                    late.result.sequence,
                )
                return
            await asyncio.sleep(self.poll)
        if settled:
            log.info("%s part %d: %s", late.reference, late.result.sequence, settled)

    async def _settle(self, connector_id: int, late: AnsweredLate) -> str:
        """What the answer changed ("" for nothing), or _NOT_YET."""
        now = self.clock()
        changes = Changes()
        async with self.store.db.transaction() as session:
            message, part = await outbox.message_and_part(
                session, late.reference, connector_id, late.result.sequence
            )
            if message is None or part is None:
                return ""  # deleted meanwhile
            if part.status == "sending":
                return _NOT_YET  # the worker's journal has yet to record the timeout
            if late.result.outcome == PartOutcome.ACCEPTED:
                settled = _named(part, late, now)
            elif part.status != "ambiguous":
                settled = ""  # settled otherwise: by a receipt, or a worker's later answer
            elif message.lease_owner is not None:
                return _NOT_YET  # a worker is sending it (its other parts) or recording it
            else:
                settled = self._refused(changes, message, part, late, now)
            if settled:
                changes.note(message, now, "answered late", f"part {part.sequence}: {settled}")
                await outbox.save(session, [part])
                await outbox.save(session, [message])
                await self.tracker.write(session, changes)
        return settled

    def _refused(
        self,
        changes: Changes,
        message: MessageRow,
        part: PartRow,
        late: AnsweredLate,
        now: datetime,
    ) -> str:
        """The part never went out: failed for good, or due to go out again."""
        result = late.result
        part.error_code = result.error_code
        if result.outcome == PartOutcome.REJECTED:
            part.status = "failed"
            if Status(message.status) not in FINAL:
                self.tracker.stage(
                    changes,
                    message,
                    Status.FAILED,
                    now,
                    result.detail,
                    error_code=result.error_code,
                    error_message=result.detail,
                )
            return f"refused after the timeout: {result.detail}; it never went out"
        part.status = "pending"
        if Status(message.status) in FINAL:
            return f"refused for now after the timeout: {result.detail}; the message is final"
        if message.status != Status.QUEUED:
            self.tracker.stage(
                changes, message, Status.QUEUED, now, f"will retry: part {part.sequence} refused"
            )
        outbox.release(message, now + RETRY_AFTER)
        return f"refused for now after the timeout: {result.detail}; it goes out again"


def _named(part: PartRow, late: AnsweredLate, now: datetime) -> str:
    """An acceptance: the part takes the SMSC's id, so its receipt finds it by id (one
    matched by handset already keeps its status, and gains the id)."""
    smsc_id = late.result.smsc_message_id
    if smsc_id is None or part.smsc_message_id is not None or part.status not in _UNNAMED:
        return ""
    part.smsc_message_id = smsc_id
    part.smsc_key = smsc_key(smsc_id)
    if part.status == "ambiguous":
        part.status = "submitted"
        part.submitted_at = now
    return f"accepted after the timeout as {smsc_id}"
