"""New outbound messages into the outbox, with group commit (and the compliance checks).

Under load many API requests arrive at once; writing each in its own transaction pays a
BEGIN, a NOTIFY and a COMMIT (a WAL flush) per message. `Intake` lets concurrent sends share
one transaction (services/group_commit.py): a request waits for the commit that holds its
row before it answers, so an accepted message is as durable as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia import metrics
from smsvia.domain import ids
from smsvia.domain.errors import DomainError
from smsvia.domain.quiet_hours import RuleBook
from smsvia.services import compliance, links
from smsvia.services.accounts import Principal
from smsvia.services.group_commit import GroupCommit
from smsvia.services.message_views import TimelineEntry
from smsvia.services.outgoing import Outgoing
from smsvia.store import outbox
from smsvia.store.context import Store
from smsvia.store.models import MessageEvent
from smsvia.store.outbox import MessageRow
from smsvia.store.rows import insert_many

MAX_BATCH = 256  # messages per shared transaction


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message to write: whose, what, through which connector, accepted when."""

    principal: Principal
    outgoing: Outgoing
    connector_id: int
    now: datetime
    campaign: CampaignLink | None = None


@dataclass(frozen=True, slots=True)
class CampaignLink:
    """A campaign's message: which campaign, to which contact, in which variant."""

    campaign_sid: str
    contact_id: int
    variant: str


class Intake:
    """Writes new messages; concurrent callers share a transaction (see the module doc)."""

    def __init__(
        self, store: Store, rules: RuleBook | None = None, *, max_batch: int = MAX_BATCH
    ) -> None:
        self._store = store
        self._rules = rules or compliance.load_rules()
        self._group: GroupCommit[NewMessage, tuple[MessageRow, TimelineEntry]] = GroupCommit(
            self._write_batch, max_batch=max_batch
        )

    async def write(self, new: NewMessage) -> tuple[MessageRow, TimelineEntry]:
        """The message and its first event, once committed."""
        return await self._group.submit(new)

    async def _write_batch(
        self, batch: Sequence[NewMessage]
    ) -> list[tuple[MessageRow, TimelineEntry] | Exception]:
        async with self._store.db.transaction() as session:
            screened = await screen_batch(session, self._store, self._rules, batch)
            accepted = [new for new in screened if isinstance(new, NewMessage)]
            written = iter(await write_messages(session, self._store, accepted))
        outcomes: list[tuple[MessageRow, TimelineEntry] | Exception] = []
        for new in screened:
            if isinstance(new, DomainError):
                outcomes.append(new)
            else:
                outcomes.append(next(written))
                metrics.MESSAGE_STATUS.labels(str(new.outgoing.status), new.outgoing.channel).inc()
        return outcomes


async def screen_batch(
    session: AsyncSession, store: Store, rules: RuleBook, batch: Sequence[NewMessage]
) -> list[NewMessage | DomainError]:
    """The compliance checks (services/compliance.py) for a batch: each message as it may
    be written, or why it may not. One pass per account in the batch."""
    by_account: dict[int, list[int]] = {}
    for position, new in enumerate(batch):
        by_account.setdefault(new.principal.account_id, []).append(position)
    results: list[NewMessage | DomainError] = list(batch)
    for account_id, positions in by_account.items():
        screened = await compliance.screen(
            session, store, rules, account_id, [batch[p].outgoing for p in positions]
        )
        for position, outcome in zip(positions, screened, strict=True):
            results[position] = (
                outcome
                if isinstance(outcome, DomainError)
                else replace(batch[position], outgoing=outcome)
            )
    return results


async def write_messages(
    session: AsyncSession, store: Store, batch: Sequence[NewMessage]
) -> list[tuple[MessageRow, TimelineEntry]]:
    """Insert the messages and their timeline entries (a multi-row INSERT each); wake the
    workers. Returns each message with its first entry.

    Messages with shortened links get their own codes here (services/links.py)."""
    if not batch:
        return []
    codes: list[tuple[str, ...]] = [()] * len(batch)
    if any(new.outgoing.links for new in batch):
        codes = await links.new_codes(session, [len(new.outgoing.links) for new in batch])
    messages = await outbox.insert_messages(
        session, [_message_values(store, n, c) for n, c in zip(batch, codes, strict=True)]
    )
    if any(codes):
        await links.keep_links(session, store, messages, [n.outgoing for n in batch], codes)
    firsts = [
        TimelineEntry(new.now, str(new.outgoing.status), new.outgoing.detail) for new in batch
    ]
    events = [
        {"message_id": message.id, "at": entry.at, "event": entry.event, "detail": entry.detail}
        for message, new, first in zip(messages, batch, firsts, strict=True)
        for entry in (first, *(TimelineEntry(new.now, *d) for d in new.outgoing.decisions))
    ]
    await insert_many(session, MessageEvent.__table__, events)
    await store.signal.notify(session)
    return list(zip(messages, firsts, strict=True))


def _message_values(store: Store, new: NewMessage, codes: tuple[str, ...]) -> dict[str, Any]:
    outgoing = new.outgoing
    body, rich_content = links.filled(store, outgoing, codes)
    return dict(
        sid=ids.new_sid(ids.MEDIA_MESSAGE if outgoing.media else ids.MESSAGE),
        account_id=new.principal.account_id,
        direction="outbound-api",
        sender=outgoing.sender,
        recipient=store.cipher.seal(outgoing.to, "message.to"),
        recipient_index=store.cipher.blind_index(outgoing.to, "phone"),
        body=store.cipher.seal(body, "message.body"),
        media_urls=list(outgoing.media),
        status=outgoing.status,
        channel=outgoing.channel,
        encoding=outgoing.encoding,
        num_segments=outgoing.segments,
        num_media=len(outgoing.media),
        smart_encoded=outgoing.smart_encoded,
        price=outgoing.price,
        price_unit=outgoing.currency,
        status_callback=outgoing.status_callback,
        validity_period=outgoing.validity_period,
        send_at=outgoing.send_at,
        expires_at=outgoing.expires_at,
        connector_id=new.connector_id,
        category=outgoing.category,
        rcs_connector_id=outgoing.rcs_connector_id,
        rich_content=rich_content,
        fallback_after=outgoing.fallback_after,
        fallback_price=outgoing.fallback_price,
        preview_token=outgoing.preview_token,
        mms_connector_id=outgoing.mms_connector_id,
        fallback_reason=outgoing.fallback_reason,
        date_created=new.now,
        date_updated=new.now,
        due_at=outgoing.due_at,
        attempts=0,
        campaign_sid=new.campaign.campaign_sid if new.campaign else None,
        contact_id=new.campaign.contact_id if new.campaign else None,
        campaign_variant=new.campaign.variant if new.campaign else None,
    )
