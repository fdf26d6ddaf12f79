"""Named queries for contacts. Every one is scoped by account.

-- contacts_by_phone_index --  the account's contacts with these blind-indexed numbers
-- contact_by_sid --           one contact
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.models import Contact


async def contacts_by_phone_index(
    session: AsyncSession, account_id: int, indexes: Collection[str]
) -> dict[str, Contact]:
    if not indexes:
        return {}
    found = await session.scalars(
        select(Contact).where(
            Contact.account_id == account_id, Contact.phone_index.in_(list(indexes))
        )
    )
    return {contact.phone_index: contact for contact in found}


async def contact_by_sid(session: AsyncSession, account_id: int, sid: str) -> Contact | None:
    return await session.scalar(
        select(Contact).where(Contact.account_id == account_id, Contact.sid == sid)
    )
