"""What an account's dashboard shows besides messages: status totals, senders, callbacks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from smsvia.domain.rcs import Action
from smsvia.domain.rcs_input import parse_rich_content
from smsvia.services.accounts import Principal
from smsvia.store import messages as message_queries
from smsvia.store import senders as sender_queries
from smsvia.store import webhooks as webhook_queries
from smsvia.store.context import Store

RECENT = 1000  # status totals are over this many of the newest messages


@dataclass(frozen=True, slots=True)
class CallbackAttempt:
    at: datetime
    url: str
    message_status: str  # the status this callback reported
    response_status: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300


@dataclass(frozen=True, slots=True)
class Preview:
    """What a hosted preview page (/m/{token}) shows of a rich message sent as SMS."""

    title: str
    description: str
    media_urls: tuple[str, ...]
    links: tuple[tuple[str, str], ...]  # (label, url) of the open-URL actions


async def preview(store: Store, token: str) -> Preview | None:
    async with store.db.sessions() as session:
        message = await message_queries.message_by_preview_token(session, token)
    if message is None or message.rich_content is None:
        return None
    content = parse_rich_content(
        json.loads(store.cipher.open(message.rich_content, "message.rich_content"))
    )
    cards = (content.card,) if content.card else content.carousel
    description = content.text or next((c.description for c in cards if c.description), "")
    suggestions = [*content.suggestions, *(s for card in cards for s in card.suggestions)]
    links = tuple(
        dict.fromkeys((s.text, s.url) for s in suggestions if s.action == Action.OPEN_URL and s.url)
    )
    return Preview(content.title or "", description or "", content.media_urls, links)


async def recent_status_counts(store: Store, principal: Principal) -> dict[str, int]:
    """Messages per status among the account's newest `RECENT`."""
    async with store.db.sessions() as session:
        return await message_queries.status_counts(session, principal.account_id, recent=RECENT)


async def senders(store: Store, principal: Principal) -> list[str]:
    """The numbers and sender IDs the account may use as `From`."""
    async with store.db.sessions() as session:
        numbers = await sender_queries.numbers_of_account(session, principal.account_id)
    return [number.phone_number for number in numbers]


@dataclass(frozen=True, slots=True)
class CallbackHistory:
    attempts: list[CallbackAttempt]
    pending: int  # callbacks not yet made, or to be retried


async def callback_history(store: Store, principal: Principal, sid: str) -> CallbackHistory:
    """Every status callback attempt made about one of the account's messages."""
    async with store.db.sessions() as session:
        message = await message_queries.message_by_sid(session, principal.account_id, sid)
        if message is None:
            return CallbackHistory([], 0)
        rows = await webhook_queries.attempts_for_message(session, message.id)
        pending = await webhook_queries.pending_for_message(session, message.id)
    attempts = [
        CallbackAttempt(
            at=attempt.at,
            url=delivery.url,
            message_status=_reported_status(store, delivery.payload),
            response_status=attempt.response_status,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
        )
        for delivery, attempt in rows
    ]
    return CallbackHistory(attempts, pending)


def _reported_status(store: Store, payload: bytes) -> str:
    params = json.loads(store.cipher.open(payload, "webhook.payload"))
    return str(params.get("MessageStatus", ""))
