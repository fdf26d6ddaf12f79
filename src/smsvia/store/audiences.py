"""Named queries for segments and the contacts they hold. Every one is scoped by account.

-- segment_by_sid --       one segment
-- page_of_segments --     newest first
-- count_contacts --       how many contacts an audience holds (a segment's live count)
-- contacts_in --          a page of an audience's contacts, newest first
-- recipients_after --     an audience's next contacts in id order, as plain rows with what
                           a message needs (a campaign's cursor)
-- replace_attributes --   the blind indexes of contacts' custom attributes, rewritten

An audience compiles to one WHERE clause over `contacts`: plain columns compared directly,
sealed fields through their blind index (`first_name_index`, `email_index`, and the
`contact_attributes` rows for attributes.NAME), tags as their quoted JSON string.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Float,
    Row,
    Text,
    and_,
    cast,
    delete,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain.audience import Audience, Condition, Kind
from smsvia.store.marketing_models import Contact, ContactAttribute, Segment
from smsvia.store.rows import insert_many

# (value, purpose) -> the blind index of the value; the store's Cipher.blind_index.
BlindIndex = Callable[[str, str], str]
# (value, purpose) -> its blind indexes under every key of the ring, for look-ups.
RingIndexes = Callable[[str, str], list[str]]
_Index = TypeVar("_Index", str, list[str])


def first_name_index(blind: Callable[[str, str], _Index], first_name: str) -> _Index:
    return blind(first_name.strip().lower(), "contact.first_name")


def attribute_index(blind: Callable[[str, str], _Index], name: str, value: str) -> _Index:
    """The index of one attribute's value; the name is inside, so equal values of two
    attributes do not share an index."""
    return blind(f"{name}\x00{value.strip().lower()}", "contact.attribute")


def email_index(blind: Callable[[str, str], _Index], email: str) -> _Index:
    return blind(email.strip().lower(), "email")


async def segment_by_sid(session: AsyncSession, account_id: int, sid: str) -> Segment | None:
    return await session.scalar(
        select(Segment).where(Segment.account_id == account_id, Segment.sid == sid)
    )


async def page_of_segments(
    session: AsyncSession, account_id: int, *, before_id: int | None, limit: int
) -> Sequence[Segment]:
    query = select(Segment).where(Segment.account_id == account_id)
    if before_id is not None:
        query = query.where(Segment.id < before_id)
    return (await session.scalars(query.order_by(Segment.id.desc()).limit(limit))).all()


async def count_contacts(session: AsyncSession, account_id: int, who: ColumnElement[bool]) -> int:
    query = select(func.count()).select_from(Contact).where(Contact.account_id == account_id, who)
    return await session.scalar(query) or 0


async def contacts_in(
    session: AsyncSession,
    account_id: int,
    who: ColumnElement[bool],
    *,
    before_id: int | None = None,
    limit: int,
) -> Sequence[Contact]:
    """A page: newest first, before `before_id`."""
    query = select(Contact).where(Contact.account_id == account_id, who)
    if before_id is not None:
        query = query.where(Contact.id < before_id)
    return (await session.scalars(query.order_by(Contact.id.desc()).limit(limit))).all()


# What building a campaign's message reads of a contact (services/campaign_plan.py).
_RECIPIENT = (
    Contact.id,
    Contact.sid,
    Contact.phone,
    Contact.email,
    Contact.first_name,
    Contact.last_name,
    Contact.attributes,
    Contact.tags,
    Contact.time_zone,
    Contact.country,
    Contact.state,
    Contact.orders_count,
    Contact.total_spent,
)


async def recipients_after(
    session: AsyncSession, account_id: int, who: ColumnElement[bool], after_id: int, limit: int
) -> Sequence[Row[Any]]:
    """The audience's next contacts after `after_id`, oldest first, as Core rows named as
    the model's attributes: a campaign reads a million of them, and ORM objects cost more
    than the rest of reading them."""
    query = (
        select(*_RECIPIENT)
        .where(Contact.account_id == account_id, who, Contact.id > after_id)
        .order_by(Contact.id)
        .limit(limit)
    )
    return (await session.execute(query)).all()


async def replace_attributes(
    session: AsyncSession,
    blind: BlindIndex,
    account_id: int,
    attributes: Mapping[int, Mapping[str, str]],
) -> None:
    """Contact id -> all of its attributes: their index rows, rewritten."""
    if not attributes:
        return
    await session.execute(
        delete(ContactAttribute).where(ContactAttribute.contact_id.in_(list(attributes)))
    )
    await insert_many(
        session,
        ContactAttribute.__table__,
        [
            {
                "contact_id": contact_id,
                "account_id": account_id,
                "name": name,
                "value_index": attribute_index(blind, name, str(value)),
            }
            for contact_id, values in attributes.items()
            for name, value in values.items()
        ],
    )


def audience_filter(
    audience: Audience, blind: RingIndexes, now: datetime, dialect: str
) -> ColumnElement[bool]:
    """The WHERE clause (beside the account's) that holds the audience's contacts."""
    clauses = [_condition(c, blind, now, dialect) for c in audience.conditions]
    if not clauses:
        return true() if audience.match == "all" else false()
    return and_(*clauses) if audience.match == "all" else or_(*clauses)


def listed(contact_ids: Iterable[int]) -> ColumnElement[bool]:
    """An audience given as a list of contacts."""
    return Contact.id.in_(list(contact_ids))


def _condition(
    c: Condition, blind: RingIndexes, now: datetime, dialect: str
) -> ColumnElement[bool]:
    if c.kind is Kind.TAGS:
        return _tags(c)
    if c.attribute is not None:
        return _attribute(c, blind)
    column: Any = getattr(Contact, _COLUMNS.get(c.field, c.field))
    value = c.value
    if c.kind is Kind.SEALED and c.op in ("eq", "ne", "in"):
        # Matched through the blind index: a value is any of its indexes under the ring.
        index = _INDEXERS[c.field]
        found = [i for v in (value if c.op == "in" else [value]) for i in index(blind, v)]
        return or_(column.is_(None), column.not_in(found)) if c.op == "ne" else column.in_(found)
    if c.kind is Kind.MONEY and dialect == "sqlite":
        # Money is text on SQLite (exact decimals); compare it as a number.
        column = cast(column, Float)
        value = tuple(float(v) for v in value) if c.op == "in" else float(value)
    return _compare(c.op, column, value, now)


def _compare(op: str, column: Any, value: Any, now: datetime) -> ColumnElement[bool]:
    if op == "exists":
        return column.is_not(None) if value else column.is_(None)
    if op == "ne":
        return or_(column.is_(None), column != value)
    if op == "in":
        return column.in_(list(value))
    if op == "contains":
        return func.lower(column).contains(value.lower(), autoescape=True)
    if op == "not_contains":
        return or_(
            column.is_(None), not_(func.lower(column).contains(value.lower(), autoescape=True))
        )
    if op == "within_days":
        return column >= now - timedelta(days=value)
    if op == "before_days":
        return column < now - timedelta(days=value)
    return {
        "eq": lambda: column == value,
        "gt": lambda: column > value,
        "gte": lambda: column >= value,
        "lt": lambda: column < value,
        "lte": lambda: column <= value,
    }[op]()


def _contains(column: Any, value: str) -> ColumnElement[bool]:
    return func.lower(column).contains(value.lower(), autoescape=True)


def _tags(c: Condition) -> ColumnElement[bool]:
    text = cast(Contact.tags, Text)
    if c.op == "exists":
        return text != "[]" if c.value else text == "[]"
    if c.op == "in":
        return or_(*(_has_tag(tag) for tag in c.value))
    has = _has_tag(c.value)
    return has if c.op == "contains" else not_(has)


def _has_tag(tag: str) -> ColumnElement[bool]:
    """Tags are a JSON list: a tag is found as its quoted JSON string, the same text on
    SQLite and PostgreSQL."""
    quoted = json.dumps(tag).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(Contact.tags, Text).like(f"%{quoted}%", escape="\\")


def _attribute(c: Condition, blind: BlindIndex) -> ColumnElement[bool]:
    name = c.attribute
    assert name is not None
    row = select(ContactAttribute.id).where(
        ContactAttribute.contact_id == Contact.id, ContactAttribute.name == name
    )
    if c.op == "exists":
        return exists(row) if c.value else not_(exists(row))
    values = c.value if c.op == "in" else [c.value]
    indexes = [i for v in values for i in attribute_index(blind, name, v)]
    same = exists(row.where(ContactAttribute.value_index.in_(indexes)))
    return not_(same) if c.op == "ne" else same


_COLUMNS = {"first_name": "first_name_index", "email": "email_index", "created_at": "date_created"}
_INDEXERS: Mapping[str, Callable[[RingIndexes, str], list[str]]] = {
    "first_name": first_name_index,
    "email": email_index,
}
