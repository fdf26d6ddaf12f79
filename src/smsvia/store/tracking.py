"""Named queries for short links, clicks and link previews.

-- codes_taken --           which of some new codes a link has already
-- links_by_code --         links with what a redirect needs: its message's channel,
                            recipient index and campaign, and the campaign's name and preview
-- record_visits --         clicks and preview fetches
-- preview_of --            a destination's Open Graph tags, if fetched
-- keep_preview --          store them (the first fetch wins a race)
-- forget_preview --        drop a failed fetch's record, to try again
-- links_of_message --      a message's links, in text order
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.marketing_models import Campaign
from smsvia.store.models import Message
from smsvia.store.rows import among, insert_many
from smsvia.store.tracking_models import Click, LinkPreview, ShortLink


async def codes_taken(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    wanted = list(codes)
    if not wanted:
        return set()
    found = await session.scalars(
        select(ShortLink.code).where(among(session, ShortLink.code, wanted))
    )
    return set(found)


@dataclass(frozen=True, slots=True)
class LinkTarget:
    id: int
    account_id: int
    message_id: int
    url: bytes  # sealed
    url_index: str
    channel: str
    fallback_reason: str | None
    phone_index: str
    recipient: bytes  # sealed
    contact_id: int | None
    campaign_sid: str | None
    campaign_name: str | None
    campaign_preview: Mapping[str, str] | None


_links = ShortLink.__table__
_messages = Message.__table__
_campaigns = Campaign.__table__
_clicks = Click.__table__
# Core statements, not ORM ones: a tap is three small statements and the ORM's own work
# per statement would cost more than the database's.
_LINK = (
    select(
        _links.c.id,
        _links.c.account_id,
        _links.c.message_id,
        _links.c.url,
        _links.c.url_index,
        _messages.c.channel,
        _messages.c.fallback_reason,
        _messages.c.recipient_index,
        _messages.c.recipient,
        _messages.c.contact_id,
        _messages.c.campaign_sid,
        _campaigns.c.name,
        _campaigns.c.link_preview,
    )
    .join(_messages, _messages.c.id == _links.c.message_id)
    .outerjoin(_campaigns, _campaigns.c.sid == _messages.c.campaign_sid)
)


async def links_by_code(session: AsyncSession, codes: Collection[str]) -> dict[str, LinkTarget]:
    rows = await session.execute(
        _LINK.add_columns(_links.c.code).where(_links.c.code.in_(list(codes)))
    )
    return {row[-1]: LinkTarget(*row[:-1]) for row in rows}


async def record_visits(session: AsyncSession, visits: Sequence[Mapping[str, Any]]) -> None:
    await insert_many(session, _clicks, visits)


async def preview_of(
    session: AsyncSession, account_id: int, url_indexes: Collection[str]
) -> LinkPreview | None:
    return await session.scalar(
        select(LinkPreview)
        .where(LinkPreview.account_id == account_id, LinkPreview.url_index.in_(list(url_indexes)))
        .limit(1)
    )


async def keep_preview(session: AsyncSession, values: Mapping[str, Any]) -> None:
    try:
        async with session.begin_nested():
            await session.execute(insert(LinkPreview).values(**values))
    except IntegrityError:  # fetched by another request meanwhile; either will do
        pass


async def forget_preview(
    session: AsyncSession, account_id: int, url_indexes: Collection[str]
) -> None:
    await session.execute(
        delete(LinkPreview).where(
            LinkPreview.account_id == account_id, LinkPreview.url_index.in_(list(url_indexes))
        )
    )


async def links_of_message(session: AsyncSession, message_id: int) -> list[ShortLink]:
    found = await session.scalars(
        select(ShortLink).where(ShortLink.message_id == message_id).order_by(ShortLink.position)
    )
    return list(found)


async def visits_of_message(session: AsyncSession, message_id: int) -> dict[str, int]:
    """kind -> how many (click | preview)."""
    rows = await session.execute(
        select(Click.kind, func.count()).where(Click.message_id == message_id).group_by(Click.kind)
    )
    return {kind: count for kind, count in rows}
