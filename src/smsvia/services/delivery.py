"""How a message moves through its statuses: each move an event and, when asked, a callback."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia import metrics
from smsvia.domain.status import Status, can_move
from smsvia.store import accounts as account_queries
from smsvia.store import contacts as contact_queries
from smsvia.store import messages as queries
from smsvia.store import webhooks as webhook_queries
from smsvia.store.context import Store
from smsvia.store.database import after_commit
from smsvia.store.models import Message, MessageEvent
from smsvia.store.outbox import MessageRow
from smsvia.store.rows import insert_many
from smsvia.store.webhooks import DeliveryRow

log = logging.getLogger(__name__)

# Statuses a StatusCallback hears about (Twilio's, plus read and canceled).
CALLBACK_STATUSES = frozenset(
    {
        Status.SENT,
        Status.DELIVERED,
        Status.UNDELIVERED,
        Status.FAILED,
        Status.READ,
        Status.CANCELED,
    }
)
API_VERSION = "2010-04-01"

# A message loaded either way: as an ORM object, or as a row by the worker's Core queries.
Tracked = Message | MessageRow


class Courier(Protocol):
    """Posts callbacks straight from memory once the transaction that queued them commits
    (webhooks/dispatcher.py), sparing each a claim and a read of its sealed parameters."""

    def lease(self, count: int) -> tuple[str, datetime] | None:
        """(owner, until) to queue `count` callbacks born claimed; None: leave them to be
        claimed as usual (the courier is full or stopping)."""

    def take(self, handed: Sequence[tuple[DeliveryRow, Mapping[str, str]]]) -> None:
        """Callbacks now committed, with their parameters, to post."""


@dataclass
class Changes:
    """Timeline entries and status callbacks made during one transaction, written together
    by `Tracker.write`: one multi-row INSERT each, however many messages moved."""

    events: list[dict[str, Any]] = field(default_factory=list)
    # Status callbacks, their AccountSid still to add.
    callbacks: list[webhook_queries.Webhook] = field(default_factory=list)
    # Contacts a campaign text was delivered to: their last_delivered_at moves to `now`.
    delivered_to: set[int] = field(default_factory=set)
    delivered_at: datetime | None = None

    def note(self, message: Tracked, now: datetime, event: str, detail: str = "") -> None:
        """A timeline entry that is not a status change."""
        self.events.append({"message_id": message.id, "at": now, "event": event, "detail": detail})


class Tracker:
    """Applies status changes; remembers account SIDs so callbacks need no extra query.

    Batches (the worker, receipts) `stage` moves into a `Changes` and `write` it once;
    single changes `move` and are written at once. Either way only the message's attributes
    are set: an ORM object is flushed with its session, a MessageRow saved by outbox.save.
    """

    def __init__(self, store: Store, courier: Courier | None = None) -> None:
        self._store = store
        self._courier = courier
        self._account_sids: dict[int, str] = {}

    def stage(
        self,
        changes: Changes,
        message: Tracked,
        status: Status,
        now: datetime,
        detail: str = "",
        *,
        error_code: int | None = None,
        error_message: str | None = None,
    ) -> bool:
        """Move `message` to `status` if the state machine allows it; False when it does not."""
        current = Status(message.status)
        if current == status:
            return False
        if not can_move(current, status):
            log.info("message %s: %s -> %s refused (%s)", message.sid, current, status, detail)
            changes.note(message, now, "ignored", f"{status} after {current}: {detail}")
            return False
        message.status = status
        message.date_updated = now
        if status == Status.SENT and message.date_sent is None:
            message.date_sent = now
        if error_code is not None:
            message.error_code = error_code
            message.error_message = error_message
        changes.note(message, now, str(status), detail)
        if status == Status.DELIVERED and message.contact_id is not None:
            changes.delivered_to.add(message.contact_id)
            changes.delivered_at = max(now, changes.delivered_at or now)
        metrics.MESSAGE_STATUS.labels(str(status), message.channel).inc()
        if message.status_callback and status in CALLBACK_STATUSES:
            changes.callbacks.append(
                webhook_queries.Webhook(
                    message.account_id,
                    message.id,
                    message.status_callback,
                    self._params(message),
                    now,
                )
            )
        return True

    async def write(self, session: AsyncSession, changes: Changes) -> None:
        """Insert the staged timeline entries and callbacks; `changes` is empty afterwards."""
        if changes.events:
            await insert_many(session, MessageEvent.__table__, changes.events)
        if changes.callbacks:
            webhooks = [
                replace(
                    callback,
                    params={
                        **callback.params,
                        "AccountSid": await self.account_sid(session, callback.account_id),
                    },
                )
                for callback in changes.callbacks
            ]
            await self._queue(session, webhooks)
        if changes.delivered_to and changes.delivered_at is not None:
            await contact_queries.moved_forward(
                session, changes.delivered_to, "last_delivered_at", changes.delivered_at
            )
        changes.events.clear()
        changes.callbacks.clear()
        changes.delivered_to.clear()

    async def _queue(self, session: AsyncSession, webhooks: list[webhook_queries.Webhook]) -> None:
        courier = self._courier
        leased_to = courier.lease(len(webhooks)) if courier is not None else None
        queued = await webhook_queries.queue_webhooks(
            session, self._store.cipher, webhooks, leased_to=leased_to
        )
        if courier is not None and queued:
            handed = [(row, webhook.params) for row, webhook in zip(queued, webhooks, strict=True)]
            after_commit(session, lambda: courier.take(handed))

    async def move(
        self,
        session: AsyncSession,
        message: Tracked,
        status: Status,
        now: datetime,
        detail: str = "",
        *,
        error_code: int | None = None,
        error_message: str | None = None,
    ) -> bool:
        """`stage` one move and write it now."""
        changes = Changes()
        moved = self.stage(
            changes,
            message,
            status,
            now,
            detail,
            error_code=error_code,
            error_message=error_message,
        )
        await self.write(session, changes)
        return moved

    def note(self, session: AsyncSession, message: Tracked, now: datetime, event: str, detail: str):
        """A timeline entry that is not a status change."""
        queries.record_event(session, message.id, now, event, detail)

    def _params(self, message: Tracked) -> dict[str, str]:
        """A status callback's parameters, as Twilio sends them (AccountSid aside)."""
        params = {
            "MessageSid": message.sid,
            "SmsSid": message.sid,
            "MessageStatus": message.status,
            "SmsStatus": message.status,
            "From": message.sender,
            "To": self._store.cipher.open(message.recipient, "message.to"),
            "ApiVersion": API_VERSION,
            "Channel": message.channel,
            "FallbackReason": message.fallback_reason or "",
        }
        if message.error_code is not None:
            params["ErrorCode"] = str(message.error_code)
        return params

    async def account_sid(self, session: AsyncSession, account_id: int) -> str:
        sid = self._account_sids.get(account_id)
        if sid is None:
            account = await account_queries.account_by_id(session, account_id)
            assert account is not None
            sid = self._account_sids[account_id] = account.sid
        return sid
