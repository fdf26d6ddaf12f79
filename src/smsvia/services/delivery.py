"""How a message moves through its statuses: each move an event and, when asked, a callback."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia import metrics
from smsvia.domain.status import Status, can_move
from smsvia.store import accounts as account_queries
from smsvia.store import messages as queries
from smsvia.store import webhooks as webhook_queries
from smsvia.store.context import Store
from smsvia.store.models import Message

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


class Tracker:
    """Applies status changes; remembers account SIDs so callbacks need no extra query."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._account_sids: dict[int, str] = {}

    async def move(
        self,
        session: AsyncSession,
        message: Message,
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
            queries.record_event(
                session, message.id, now, "ignored", f"{status} after {current}: {detail}"
            )
            return False
        message.status = status
        message.date_updated = now
        if status == Status.SENT and message.date_sent is None:
            message.date_sent = now
        if error_code is not None:
            message.error_code = error_code
            message.error_message = error_message
        queries.record_event(session, message.id, now, str(status), detail)
        metrics.MESSAGE_STATUS.labels(str(status), message.channel).inc()
        if message.status_callback and status in CALLBACK_STATUSES:
            await self._enqueue_callback(session, message, now)
        return True

    def note(self, session: AsyncSession, message: Message, now: datetime, event: str, detail: str):
        """A timeline entry that is not a status change."""
        queries.record_event(session, message.id, now, event, detail)

    async def _enqueue_callback(self, session: AsyncSession, message: Message, now: datetime):
        account_sid = await self.account_sid(session, message.account_id)
        params = {
            "MessageSid": message.sid,
            "SmsSid": message.sid,
            "MessageStatus": message.status,
            "SmsStatus": message.status,
            "AccountSid": account_sid,
            "From": message.sender,
            "To": self._store.cipher.open(message.recipient, "message.to"),
            "ApiVersion": API_VERSION,
            "Channel": message.channel,
            "FallbackReason": message.fallback_reason or "",
        }
        if message.error_code is not None:
            params["ErrorCode"] = str(message.error_code)
        assert message.status_callback is not None
        webhook_queries.queue_webhook(
            session,
            self._store.cipher,
            account_id=message.account_id,
            message_id=message.id,
            url=message.status_callback,
            params=params,
            now=now,
        )

    async def account_sid(self, session: AsyncSession, account_id: int) -> str:
        sid = self._account_sids.get(account_id)
        if sid is None:
            account = await account_queries.account_by_id(session, account_id)
            assert account is not None
            sid = self._account_sids[account_id] = account.sid
        return sid
