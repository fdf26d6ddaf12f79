"""Segments: saved audiences whose count is always live (see domain/audience.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain import ids
from smsvia.domain.audience import Audience, InvalidSegment, parse_audience
from smsvia.domain.errors import NotFound
from smsvia.services.accounts import Principal
from smsvia.services.clock import Clock, utcnow
from smsvia.services.contacts import MAX_PAGE_SIZE, ContactPage, contact_view
from smsvia.services.paging import window
from smsvia.store import audiences as queries
from smsvia.store.context import Store
from smsvia.store.marketing_models import Segment

SEGMENT = "SG"
MAX_NAME = 255


@dataclass(frozen=True, slots=True)
class SegmentView:
    sid: str
    name: str
    match: str
    conditions: list[dict[str, Any]]
    count: int
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class SegmentPage:
    segments: list[SegmentView]
    next_token: str | None


async def create_segment(
    store: Store,
    principal: Principal,
    name: Any,
    match: Any,
    conditions: Any,
    *,
    clock: Clock = utcnow,
) -> SegmentView:
    """Check the rule (400 naming the bad condition), save it and count it."""
    if not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_NAME:
        raise InvalidSegment(f"name must be 1 to {MAX_NAME} characters", field="name")
    audience = parse_audience(match, conditions)
    now = clock()
    async with store.db.transaction() as session:
        segment = Segment(
            sid=ids.new_sid(SEGMENT),
            account_id=principal.account_id,
            name=name.strip(),
            match=audience.match,
            conditions=audience.as_json(),
            date_created=now,
            date_updated=now,
        )
        session.add(segment)
        await session.flush()
        count = await queries.count_contacts(
            session, principal.account_id, audience_filter(session, store, audience, now)
        )
    return _view(segment, count)


async def count_audience(
    store: Store, principal: Principal, match: Any, conditions: Any, *, clock: Clock = utcnow
) -> int:
    """How many contacts a rule holds now, without saving it (a builder's live count)."""
    audience = parse_audience(match, conditions)
    async with store.db.sessions() as session:
        who = audience_filter(session, store, audience, clock())
        return await queries.count_contacts(session, principal.account_id, who)


async def get_segment(
    store: Store, principal: Principal, sid: str, *, clock: Clock = utcnow
) -> SegmentView:
    async with store.db.sessions() as session:
        segment = await owned_segment(session, principal.account_id, sid)
        return _view(segment, await _count(session, store, segment, clock()))


async def list_segments(
    store: Store,
    principal: Principal,
    *,
    page_size: int = 50,
    page_token: str | None = None,
    clock: Clock = utcnow,
) -> SegmentPage:
    asked = window(page_size, page_token, MAX_PAGE_SIZE)
    now = clock()
    async with store.db.sessions() as session:
        found = await queries.page_of_segments(
            session, principal.account_id, before_id=asked.before_id, limit=asked.limit
        )
        shown, next_token = asked.page(found)
        views = [_view(s, await _count(session, store, s, now)) for s in shown]
    return SegmentPage(views, next_token)


async def delete_segment(store: Store, principal: Principal, sid: str) -> None:
    async with store.db.transaction() as session:
        await session.delete(await owned_segment(session, principal.account_id, sid))


async def segment_contacts(
    store: Store,
    principal: Principal,
    sid: str,
    *,
    page_size: int = 50,
    page_token: str | None = None,
    clock: Clock = utcnow,
) -> ContactPage:
    """The segment's contacts now, newest first."""
    asked = window(page_size, page_token, MAX_PAGE_SIZE)
    async with store.db.sessions() as session:
        segment = await owned_segment(session, principal.account_id, sid)
        found = await queries.contacts_in(
            session,
            principal.account_id,
            audience_filter(session, store, stored_audience(segment), clock()),
            before_id=asked.before_id,
            limit=asked.limit,
        )
    shown, next_token = asked.page(found)
    return ContactPage([contact_view(store, c) for c in shown], next_token)


async def owned_segment(session: AsyncSession, account_id: int, sid: str) -> Segment:
    segment = await queries.segment_by_sid(session, account_id, sid)
    if segment is None:
        raise NotFound(f"The requested resource /v1/segments/{sid} was not found")
    return segment


def stored_audience(segment: Segment) -> Audience:
    return parse_audience(segment.match, segment.conditions)


def audience_filter(
    session: AsyncSession, store: Store, audience: Audience, now: datetime
) -> ColumnElement[bool]:
    """The audience as a WHERE clause for this session's database."""
    dialect = session.bind.dialect.name
    return queries.audience_filter(audience, store.cipher.lookup_indexes, now, dialect)


async def _count(session: AsyncSession, store: Store, segment: Segment, now: datetime) -> int:
    who = audience_filter(session, store, stored_audience(segment), now)
    return await queries.count_contacts(session, segment.account_id, who)


def _view(segment: Segment, count: int) -> SegmentView:
    return SegmentView(
        sid=segment.sid,
        name=segment.name,
        match=segment.match,
        conditions=segment.conditions,
        count=count,
        date_created=segment.date_created,
        date_updated=segment.date_updated,
    )
