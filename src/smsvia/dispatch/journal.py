"""Part intents and outcomes, written in small group commits as parts go on the wire.

Before a part is written to the SMSC, its intent (`sending`) is committed; as soon as the
SMSC answers, its outcome follows in the next commit. After a crash, then, the parts that may
have gone out are exactly those with an intent and no outcome: the ones in the SMPP window,
plus the answers of one commit not yet made. Everything else is known to have gone out, or
known not to have, and is sent once.

One commit carries every intent and outcome that arrived while the previous one ran, so a
part waits one commit (a few milliseconds) and the database sees a handful of statements per
group, not one transaction per part. An intent is fenced by the lease: it is written only
while this worker still holds the message, so a worker taken over (or one whose lease ran
out) never sends what its successor sends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from smsvia.channels.base import PartOutcome, PartResult
from smsvia.domain.receipt_ids import smsc_key
from smsvia.services.clock import Clock, utcnow
from smsvia.services.delivery import Changes
from smsvia.store import outbox
from smsvia.store.context import Store
from smsvia.store.outbox import MessageRow, PartRow

log = logging.getLogger(__name__)

# A part's status once its answer is in.
PART_STATUS = {
    PartOutcome.ACCEPTED: "submitted",
    PartOutcome.AMBIGUOUS: "ambiguous",
    PartOutcome.REJECTED: "failed",
    PartOutcome.RETRY: "pending",
    PartOutcome.NOT_SENT: "pending",
}


class PartJournal:
    """Group commits of part intents and outcomes for one worker (its lease owner name)."""

    def __init__(self, store: Store, owner: str, *, clock: Clock = utcnow) -> None:
        self.store = store
        self.owner = owner
        self.clock = clock
        self._intents: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._outcomes: list[dict[str, Any]] = []
        self._flushes: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None
        self.commits = 0
        self.largest_group = 0

    async def writing(self, message_id: int, connector_id: int | None, sequence: int) -> bool:
        """Commit the intent to write this part; False: the message is no longer ours (or
        the intent could not be written), and the part must not go out."""
        future = asyncio.get_running_loop().create_future()
        row = {
            "message_id": message_id,
            "sequence": sequence,
            "connector_id": connector_id,
            "status": "sending",
            "smsc_message_id": None,
            "smsc_key": None,
            "error_code": None,
            "submitted_at": None,
            "done_at": None,
        }
        self._intents.append((row, future))
        self._kick()
        return await future

    def answered(self, message_id: int, connector_id: int | None, result: PartResult) -> None:
        """What became of a part whose intent was written: noted in the next commit."""
        self._outcomes.append(outcome_row(message_id, connector_id, result, self.clock()))
        self._kick()

    async def flush(self) -> None:
        """Return once every outcome noted so far is committed."""
        if not self._outcomes and (self._task is None or self._task.done()):
            return  # nothing noted since the last commit, and none under way
        future = asyncio.get_running_loop().create_future()
        self._flushes.append(future)
        self._kick()
        await future

    def _kick(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="part-journal")

    async def _drain(self) -> None:
        """Commit what has gathered, again and again, until nothing waits."""
        while self._intents or self._outcomes or self._flushes:
            intents, self._intents = self._intents, []
            outcomes, self._outcomes = self._outcomes, []
            flushes, self._flushes = self._flushes, []
            try:
                noted = await self._commit([row for row, _ in intents], outcomes)
            except Exception:
                log.exception(
                    "could not write %d part intents and %d outcomes; retrying the outcomes",
                    len(intents),
                    len(outcomes),
                )
                _resolve(intents, set())  # not written: those parts do not go out
                # An outcome is the only record of what the SMSC did: keep it until written.
                self._outcomes[:0] = outcomes
                self._flushes[:0] = flushes
                await asyncio.sleep(0.5)
                continue
            self.commits += 1
            self.largest_group = max(self.largest_group, len(intents) + len(outcomes))
            _resolve(intents, noted)
            for future in flushes:
                if not future.done():
                    future.set_result(None)

    async def _commit(
        self, intents: Sequence[dict[str, Any]], outcomes: Sequence[dict[str, Any]]
    ) -> set[tuple[int, int]]:
        # Look-ups by key only: no custom plans needed (and no SET LOCAL round trip).
        async with self.store.db.transaction() as session:
            noted = await outbox.record_intents(session, self.owner, intents)
            await outbox.record_parts(session, outcomes)
        return noted


def outcome_row(
    message_id: int, connector_id: int | None, result: PartResult, now: datetime
) -> dict[str, Any]:
    """A part's row as its answer leaves it."""
    accepted = result.outcome == PartOutcome.ACCEPTED
    return {
        "message_id": message_id,
        "sequence": result.sequence,
        "connector_id": connector_id,
        "status": PART_STATUS[result.outcome],
        "smsc_message_id": result.smsc_message_id,
        "smsc_key": smsc_key(result.smsc_message_id) if result.smsc_message_id else None,
        "error_code": result.error_code,
        "submitted_at": now if accepted else None,
        "done_at": None,
    }


def flag_unanswered(
    changes: Changes, message: MessageRow, parts: Iterable[PartRow], now: datetime
) -> None:
    """The message was left `sending`: a worker stopped, or lost its lease, before the
    answers were all recorded. A part whose intent was written and whose answer was not may
    have gone out, so it is ambiguous, never sent again; the parts without an intent never
    left, and go out as usual."""
    for part in parts:
        if part.status != "sending":
            continue
        part.status = "ambiguous"
        changes.note(
            message,
            now,
            "ambiguous",
            f"part {part.sequence}: a worker stopped between writing it out and recording "
            "the answer; it may have gone out, so it is not sent again",
        )


class PartGate:
    """One message's parts on their way out: what the channel asks before it writes a part,
    and tells once the SMSC answers (channels/base.py `PartGate`)."""

    def __init__(self, journal: PartJournal, message_id: int, connector_id: int | None) -> None:
        self.journal = journal
        self.message_id = message_id
        self.connector_id = connector_id
        self.written: set[int] = set()
        self.answered_parts: set[int] = set()

    async def writing(self, sequence: int) -> bool:
        ours = await self.journal.writing(self.message_id, self.connector_id, sequence)
        if ours:
            self.written.add(sequence)
        return ours

    def answered(self, result: PartResult) -> None:
        self.answered_parts.add(result.sequence)
        self.journal.answered(self.message_id, self.connector_id, result)

    def close(self, results: Sequence[PartResult]) -> list[PartResult]:
        """Note the answers the channel did not report itself; returns the results, a part
        that never got its intent written as not sent (whatever a failing channel said)."""
        final = []
        for result in results:
            if result.sequence in self.written and result.sequence not in self.answered_parts:
                self.answered(result)
            elif result.sequence not in self.written and result.outcome == PartOutcome.AMBIGUOUS:
                result = PartResult(result.sequence, PartOutcome.NOT_SENT, detail=result.detail)
            final.append(result)
        return final


def _resolve(
    intents: Sequence[tuple[dict[str, Any], asyncio.Future[bool]]], noted: set[tuple[int, int]]
) -> None:
    for row, future in intents:
        if not future.done():
            future.set_result((row["message_id"], row["sequence"]) in noted)
