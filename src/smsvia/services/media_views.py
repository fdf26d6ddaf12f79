"""Twilio's Media subresource: what an MMS carried, as sent (or as received), and the
bytes themselves.

The bytes are served without credentials, as Twilio's media URLs are by default: the
shop's webhook fetches `MediaUrl0` as it comes, and the medium's SID (128 random bits) is
the key. The listing and the metadata need the account's credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from smsvia.domain.errors import NotFound
from smsvia.services.accounts import Principal
from smsvia.store import media as media_queries
from smsvia.store import messages as message_queries
from smsvia.store.context import Store
from smsvia.store.media_models import Media
from smsvia.store.models import Account, Message


@dataclass(frozen=True, slots=True)
class MediaView:
    sid: str
    account_sid: str
    parent_sid: str  # the message
    content_type: str
    size: int
    date_created: datetime


async def list_media(store: Store, principal: Principal, message_sid: str) -> list[MediaView]:
    async with store.db.sessions() as session:
        message = await message_queries.message_by_sid(session, principal.account_id, message_sid)
        if message is None:
            raise NotFound(f"The requested resource Message {message_sid} was not found")
        # An MMS that went as SMS in the end carried no media.
        media = (
            await media_queries.media_of_message(session, message.id)
            if message.channel == "mms"
            else []
        )
    return [_view(medium, principal.account_sid, message_sid) for medium in media]


async def get_medium(
    store: Store, principal: Principal, message_sid: str, media_sid: str
) -> MediaView:
    for medium in await list_media(store, principal, message_sid):
        if medium.sid == media_sid:
            return medium
    raise NotFound(f"The requested resource Media {media_sid} was not found")


async def media_content(
    store: Store, account_sid: str, message_sid: str, media_sid: str
) -> tuple[str, bytes]:
    """The content type and bytes of one medium; NotFound unless the three SIDs belong
    together."""
    async with store.db.sessions() as session:
        found = await session.execute(
            select(Media.content_type, Media.sha256)
            .join(Message, Message.id == Media.message_id)
            .join(Account, Account.id == Media.account_id)
            .where(Media.sid == media_sid, Message.sid == message_sid, Account.sid == account_sid)
        )
        row = found.first()
    data = store.media.read(row.sha256) if row is not None else None
    if row is None or data is None:
        raise NotFound(f"The requested resource Media {media_sid} was not found")
    return row.content_type, data


def _view(medium: Media, account_sid: str, message_sid: str) -> MediaView:
    return MediaView(
        medium.sid,
        account_sid,
        message_sid,
        medium.content_type,
        medium.size,
        medium.date_created,
    )
