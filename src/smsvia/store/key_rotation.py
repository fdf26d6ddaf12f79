"""Named queries for re-keying sealed values and blind indexes (services/key_rotation.py).

-- stale_rows --          a table's rows, by id, with a sealed value not under the primary key
-- count_stale --         how many such rows a table still has
-- rewrite --             new ciphertexts and indexes, each row only if its sealed values are
                          still those that were read (a concurrent change wins)
-- reindex_attributes --  a contact's attribute indexes, old -> new
-- reindex_waiting_receipts --  receipts still waiting for their part: handset index, old -> new
-- reindex_previews --    kept link previews, old URL index -> new (or dropped where the new
                          one was fetched meanwhile)
-- follow_messages --     clicks take their message's recipient index
-- follow_contacts --     orders without a number of their own take their contact's index
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from smsvia.store.marketing_models import Contact, ContactAttribute
from smsvia.store.models import Message, ReceiptInbox
from smsvia.store.tracking_models import Click, LinkPreview, Order


def _stale(table: Table, sealed: Sequence[str], prefix: bytes) -> ColumnElement[bool]:
    return or_(
        *(
            and_(table.c[name].is_not(None), func.substr(table.c[name], 1, len(prefix)) != prefix)
            for name in sealed
        )
    )


async def stale_rows(
    session: AsyncSession,
    table: Table,
    sealed: Sequence[str],
    extra: Sequence[str],
    prefix: bytes,
    after_id: int,
    limit: int,
) -> list[dict[str, Any]]:
    """Rows after `after_id` with any of the `sealed` columns not starting with `prefix`:
    their id, sealed and `extra` columns."""
    columns = [table.c.id, *(table.c[name] for name in (*sealed, *extra))]
    rows = await session.execute(
        select(*columns)
        .where(table.c.id > after_id, _stale(table, sealed, prefix))
        .order_by(table.c.id)
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]


async def count_stale(
    session: AsyncSession, table: Table, sealed: Sequence[str], prefix: bytes
) -> int:
    found = await session.scalar(
        select(func.count()).select_from(table).where(_stale(table, sealed, prefix))
    )
    return int(found or 0)


async def rewrite(
    session: AsyncSession,
    table: Table,
    sealed: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """Each row's new values (`new_<column>`), where its sealed columns still hold what was
    read (`old_<column>`): a row changed meanwhile was written by a process with the new
    ring, or will be found stale again on the next pass."""
    guard = []
    for name in sealed:
        old = bindparam(f"old_{name}", type_=table.c[name].type)
        guard.append(or_(and_(table.c[name].is_(None), old.is_(None)), table.c[name] == old))
    by_changes: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        changed = tuple(sorted(key[4:] for key in row if key.startswith("new_")))
        by_changes.setdefault(changed, []).append(row)
    for changed, group in by_changes.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("row_id"), *guard)
            .values({name: bindparam(f"new_{name}", type_=table.c[name].type) for name in changed})
        )
        await session.execute(statement, [dict(row) for row in group])


async def reindex_attributes(session: AsyncSession, pairs: Sequence[Mapping[str, Any]]) -> None:
    """Pairs of {contact, old, new}."""
    if pairs:
        table = ContactAttribute.__table__
        statement = (
            update(table)
            .where(
                table.c.contact_id == bindparam("contact"),
                table.c.value_index == bindparam("old"),
            )
            .values(value_index=bindparam("new"))
        )
        await session.execute(statement, [dict(pair) for pair in pairs])


async def reindex_waiting_receipts(
    session: AsyncSession, pairs: Sequence[Mapping[str, Any]]
) -> None:
    """Pairs of {old, new}; only unapplied receipts (a handful, on a partial index)."""
    if pairs:
        table = ReceiptInbox.__table__
        statement = (
            update(table)
            .where(table.c.applied_at.is_(None), table.c.recipient_index == bindparam("old"))
            .values(recipient_index=bindparam("new"))
        )
        await session.execute(statement, [dict(pair) for pair in pairs])


async def reindex_previews(session: AsyncSession, pairs: Sequence[Mapping[str, Any]]) -> None:
    """Pairs of {account, old, new}. A preview kept under both (fetched again meanwhile)
    keeps the newer one: (account, URL index) is unique."""
    if not pairs:
        return
    table = LinkPreview.__table__
    newer = aliased(LinkPreview)
    mine = (table.c.account_id == bindparam("account"), table.c.url_index == bindparam("old"))
    await session.execute(
        update(table)
        .where(
            *mine,
            ~exists().where(
                newer.account_id == bindparam("account"), newer.url_index == bindparam("new")
            ),
        )
        .values(url_index=bindparam("new")),
        [dict(pair) for pair in pairs],
    )
    await session.execute(delete(table).where(*mine), [dict(pair) for pair in pairs])


async def follow_messages(session: AsyncSession, message_ids: Sequence[int]) -> None:
    """Clicks carry their message's recipient index (copied when the link was tapped)."""
    if not message_ids:
        return
    current = (
        select(Message.recipient_index).where(Message.id == Click.message_id).scalar_subquery()
    )
    await session.execute(
        update(Click)
        .where(Click.message_id.in_(list(message_ids)), Click.phone_index != current)
        .values(phone_index=current)
        .execution_options(synchronize_session=False)
    )


async def follow_contacts(session: AsyncSession) -> None:
    """Orders with no number of their own carry their contact's phone index."""
    current = select(Contact.phone_index).where(Contact.id == Order.contact_id).scalar_subquery()
    await session.execute(
        update(Order)
        .where(
            Order.phone.is_(None),
            Order.contact_id.is_not(None),
            Order.phone_index.is_not(None),
            Order.phone_index != current,
        )
        .values(phone_index=current)
        .execution_options(synchronize_session=False)
    )
