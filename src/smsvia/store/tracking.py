"""Named queries for short links, clicks and link previews.

-- codes_taken --           which of some new codes a link has already
-- link_by_code --          a link with what a redirect needs: its message's channel,
                            recipient index and campaign, and the campaign's name and preview
-- record_visit --          a click or a preview fetch
-- clicked --               a contact's last_clicked_at moved forward
-- preview_of --            a destination's Open Graph tags, if fetched
-- keep_preview --          store them (the first fetch wins a race)
-- forget_preview --        drop a failed fetch's record, to try again
-- links_of_message --      a message's links, in text order
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.marketing_models import Campaign, Contact
from smsvia.store.models import Message
from smsvia.store.tracking_models import Click, LinkPreview, ShortLink


async def codes_taken(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    wanted = list(codes)
    if not wanted:
        return set()
    found = await session.scalars(select(ShortLink.code).where(ShortLink.code.in_(wanted)))
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
    contact_id: int | None
    campaign_sid: str | None
    campaign_name: str | None
    campaign_preview: Mapping[str, str] | None


async def link_by_code(session: AsyncSession, code: str) -> LinkTarget | None:
    row = (
        await session.execute(
            select(
                ShortLink.id,
                ShortLink.account_id,
                ShortLink.message_id,
                ShortLink.url,
                ShortLink.url_index,
                Message.channel,
                Message.fallback_reason,
                Message.recipient_index,
                Message.contact_id,
                Message.campaign_sid,
                Campaign.name,
                Campaign.link_preview,
            )
            .join(Message, Message.id == ShortLink.message_id)
            .outerjoin(Campaign, Campaign.sid == Message.campaign_sid)
            .where(ShortLink.code == code)
        )
    ).first()
    return None if row is None else LinkTarget(*row)


async def record_visit(
    session: AsyncSession, link: LinkTarget, *, kind: str, user_agent: str, at: datetime
) -> None:
    await session.execute(
        insert(Click).values(
            account_id=link.account_id,
            link_id=link.id,
            message_id=link.message_id,
            campaign_sid=link.campaign_sid,
            contact_id=link.contact_id,
            phone_index=link.phone_index,
            kind=kind,
            user_agent=user_agent[:300],
            at=at,
        )
    )


async def clicked(session: AsyncSession, link: LinkTarget, at: datetime) -> None:
    """The contact's last click moves to `at` (never back): the contact the campaign
    texted, or for an API message the account's contact with that number."""
    who = (
        Contact.id == link.contact_id
        if link.contact_id is not None
        else (Contact.account_id == link.account_id) & (Contact.phone_index == link.phone_index)
    )
    await session.execute(
        update(Contact)
        .where(who)
        .where((Contact.last_clicked_at.is_(None)) | (Contact.last_clicked_at < at))
        .values(last_clicked_at=at)
        .execution_options(synchronize_session=False)
    )


async def preview_of(session: AsyncSession, account_id: int, url_index: str) -> LinkPreview | None:
    return await session.scalar(
        select(LinkPreview).where(
            LinkPreview.account_id == account_id, LinkPreview.url_index == url_index
        )
    )


async def keep_preview(session: AsyncSession, values: Mapping[str, Any]) -> None:
    try:
        async with session.begin_nested():
            await session.execute(insert(LinkPreview).values(**values))
    except IntegrityError:  # fetched by another request meanwhile; either will do
        pass


async def forget_preview(session: AsyncSession, account_id: int, url_index: str) -> None:
    await session.execute(
        delete(LinkPreview).where(
            LinkPreview.account_id == account_id, LinkPreview.url_index == url_index
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
