"""Named queries for contacts. Every one is scoped by account.

-- contacts_by_phone_index --  the account's contacts with these blind-indexed numbers
-- contact_by_sid --           one contact
-- contact_by_email_index --   the oldest contact with a blind-indexed email
-- time_zones --               the time zones the contacts with these numbers gave
-- page_of_contacts --         newest first, filtered by number, email or tag
-- contact_ids_by_sid --       sid -> id of the account's contacts among these SIDs
-- set_consent --              the ledger's standing copied onto the contacts of some numbers
-- moved_forward --            contacts' last delivery or last click moved forward (a batch)
-- ids_by_phone_index --       ids of the account's contacts with these blind-indexed numbers
-- underived --                contacts whose derived columns are still to fill
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Text, cast, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.crypto import Indexes
from smsvia.store.marketing_models import Contact
from smsvia.store.rows import among

_contacts = Contact.__table__  # Core statements where a batch touches many rows


async def contacts_by_phone_index(
    session: AsyncSession, account_id: int, phones: Indexes
) -> dict[str, Contact]:
    """Primary phone index -> the contact (indexed by any key of the ring)."""
    if not phones.canonical:
        return {}
    found = await session.scalars(
        select(Contact).where(Contact.account_id == account_id, Contact.phone_index.in_(phones.all))
    )
    return {phones.canonical[contact.phone_index]: contact for contact in found}


async def time_zones(session: AsyncSession, account_id: int, phones: Indexes) -> dict[str, str]:
    """Primary phone index -> time zone, for the account's contacts that have one."""
    if not phones.canonical:
        return {}
    rows = await session.execute(
        select(Contact.phone_index, Contact.time_zone).where(
            Contact.account_id == account_id,
            among(session, Contact.phone_index, phones.all),
            Contact.time_zone.is_not(None),
        )
    )
    return {phones.canonical[index]: zone for index, zone in rows}


async def contact_by_sid(session: AsyncSession, account_id: int, sid: str) -> Contact | None:
    return await session.scalar(
        select(Contact).where(Contact.account_id == account_id, Contact.sid == sid)
    )


async def contact_by_email_index(
    session: AsyncSession, account_id: int, indexes: Collection[str]
) -> Contact | None:
    """The account's (oldest) contact with that email (its indexes under the ring's keys)."""
    return await session.scalar(
        select(Contact)
        .where(Contact.account_id == account_id, Contact.email_index.in_(list(indexes)))
        .order_by(Contact.id)
        .limit(1)
    )


async def page_of_contacts(
    session: AsyncSession,
    account_id: int,
    *,
    phone_indexes: Collection[str] | None,
    email_indexes: Collection[str] | None,
    tag: str | None,
    before_id: int | None,
    limit: int,
) -> Sequence[Contact]:
    """Newest first. Tags are stored as a JSON list, so a tag is matched as its quoted
    JSON string (the same text on SQLite and PostgreSQL)."""
    query = select(Contact).where(Contact.account_id == account_id)
    if phone_indexes is not None:
        query = query.where(Contact.phone_index.in_(list(phone_indexes)))
    if email_indexes is not None:
        query = query.where(Contact.email_index.in_(list(email_indexes)))
    if tag is not None:
        quoted = json.dumps(tag).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(cast(Contact.tags, Text).like(f"%{quoted}%", escape="\\"))
    if before_id is not None:
        query = query.where(Contact.id < before_id)
    return (await session.scalars(query.order_by(Contact.id.desc()).limit(limit))).all()


async def set_consent(
    session: AsyncSession, account_id: int, indexes: Collection[str], status: str, marketing: bool
) -> None:
    await session.execute(
        update(Contact)
        .where(Contact.account_id == account_id, Contact.phone_index.in_(list(indexes)))
        .values(consent=status, marketing_allowed=marketing)
    )


async def moved_forward(
    session: AsyncSession, contact_ids: Collection[int], field: str, at: datetime
) -> None:
    """An engagement moment (`last_delivered_at`, `last_clicked_at`) of these contacts moves
    to `at`, never back. On PostgreSQL the rows are locked in id order first, so two batches
    never deadlock over them."""
    ids = sorted(contact_ids)
    if not ids:
        return
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            select(_contacts.c.id)
            .where(_contacts.c.id.in_(ids))
            .order_by(_contacts.c.id)
            .with_for_update()
        )
    column = _contacts.c[field]
    await session.execute(
        update(_contacts)
        .where(_contacts.c.id.in_(ids), or_(column.is_(None), column < at))
        .values({field: at})
    )


async def ids_by_phone_index(
    session: AsyncSession, account_id: int, indexes: Collection[str]
) -> list[int]:
    if not indexes:
        return []
    found = await session.scalars(
        select(_contacts.c.id).where(
            _contacts.c.account_id == account_id, _contacts.c.phone_index.in_(list(indexes))
        )
    )
    return list(found)


async def underived(session: AsyncSession, limit: int) -> Sequence[Contact]:
    """Contacts from before the derived columns (country NULL), any account."""
    return (
        await session.scalars(
            select(Contact).where(Contact.country.is_(None)).order_by(Contact.id).limit(limit)
        )
    ).all()


async def contact_ids_by_sid(
    session: AsyncSession, account_id: int, sids: Collection[str]
) -> dict[str, int]:
    if not sids:
        return {}
    rows = await session.execute(
        select(Contact.sid, Contact.id).where(
            Contact.account_id == account_id, Contact.sid.in_(list(sids))
        )
    )
    return dict(rows.all())
