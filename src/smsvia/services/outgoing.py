"""An outbound message checked and priced: what the send path hands from check to outbox.

Its own module because both the compliance checks and the intake that writes messages
work on it, and the intake calls the checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from smsvia.domain.status import Status


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A send request checked and priced, ready to become a row."""

    to: str
    region: str  # the destination's country, for prices
    sender: str
    body: str
    media: tuple[str, ...]
    smart_encoded: bool
    encoding: str
    segments: int
    price: Decimal
    currency: str
    status: Status
    status_callback: str | None
    validity_period: int | None
    send_at: datetime | None
    due_at: datetime
    expires_at: datetime
    detail: str  # the first timeline entry
    category: str | None = None  # transactional | marketing
    # RCS first (services/routing.py); `channel` stays "sms" for a plain SMS.
    channel: str = "sms"
    rcs_connector_id: int | None = None
    rich_content: dict[str, Any] | None = None  # native JSON, also kept for preview pages
    fallback_after: int | None = None
    fallback_price: Decimal | None = None
    preview_token: str | None = None
    # MMS (services/routing.py): the MM7 connector, or why media go as a preview link.
    mms_connector_id: int | None = None
    fallback_reason: str | None = None
    # Shortened links (domain/links.py): the original URLs, in the order of the
    # placeholders in `body` and `rich_content` that this message's own codes replace.
    links: tuple[str, ...] = ()
    # Timeline entries after the first: what the compliance checks decided (event, detail).
    decisions: tuple[tuple[str, str], ...] = ()
