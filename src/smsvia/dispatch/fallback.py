"""The step RCS and MMS share when they give up: the message goes as the SMS it was priced as
up front ("Sent as SMS via server")."""

from __future__ import annotations

from datetime import datetime

from smsvia.domain.status import Status
from smsvia.services.delivery import Changes, Tracker
from smsvia.store import outbox
from smsvia.store.outbox import MessageRow


def go_as_sms(
    tracker: Tracker, changes: Changes, message: MessageRow, reason: str, why: str, now: datetime
) -> None:
    """Queue the message again as SMS, priced as that SMS; due as of its creation, so it goes
    ahead of messages queued after it rather than behind them."""
    message.channel = "sms"
    message.fallback_reason = reason
    if message.fallback_price is not None:
        message.price = message.fallback_price
    tracker.stage(changes, message, Status.QUEUED, now, f"Sent as SMS via server: {why}")
    outbox.release(message, min(now, message.date_created))
