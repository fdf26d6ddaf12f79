"""Campaigns, the resource: create a draft, launch it (now, at a time, or at each recipient's
local time), pause, resume and cancel it, and read it with its live figures.

The fan-out that turns a launched campaign into messages is services/fanout.py; the preview
of its cost is services/campaign_preview.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain import ids
from smsvia.domain.campaigns import CampaignStatus, InvalidCampaign, check_move
from smsvia.domain.errors import NotFound
from smsvia.domain.status import Status
from smsvia.services.accounts import Principal
from smsvia.services.campaign_input import check_settings
from smsvia.services.campaign_plan import launched_audience
from smsvia.services.campaign_stats import campaign_stats, money
from smsvia.services.clock import Clock, utcnow
from smsvia.services.delivery import Changes, Tracker
from smsvia.services.message_views import MessageView, message_view
from smsvia.services.paging import window
from smsvia.services.routing import sender_route
from smsvia.services.segments import owned_segment
from smsvia.services.senders import normalize_sender
from smsvia.store import audiences
from smsvia.store import campaigns as queries
from smsvia.store import contacts as contact_queries
from smsvia.store.context import Store
from smsvia.store.marketing_models import Campaign
from smsvia.store.outbox import release
from smsvia.store.rows import save

CAMPAIGN = "CM"
MAX_LISTED_CONTACTS = 10_000
MAX_PAGE_SIZE = 100
CANCEL_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class CampaignPage:
    campaigns: list[dict[str, Any]]
    next_token: str | None


async def create_campaign(
    store: Store,
    principal: Principal,
    body: Mapping[str, Any],
    *,
    default_region: str = "US",
    clock: Clock = utcnow,
) -> dict[str, Any]:
    """A draft; every field checked now (400 naming it), the templates parsed."""
    settings = check_settings(body)
    settings["sender"] = normalize_sender(settings["sender"], default_region)
    await sender_route(store, principal, settings["sender"])  # 21606 if not the account's
    now = clock()
    send_at = _send_at(body.get("send_at"), now)
    async with store.db.transaction() as session:
        segment_sid, contact_sids = await _audience_source(session, principal, body)
        campaign = Campaign(
            sid=ids.new_sid(CAMPAIGN),
            account_id=principal.account_id,
            status=CampaignStatus.DRAFT,
            segment_sid=segment_sid,
            contact_sids=contact_sids,
            send_at=send_at,
            phase="all",
            cursor=0,
            recipients=0,
            excluded={},
            committed=Decimal(0),
            date_created=now,
            date_updated=now,
            **settings,
        )
        session.add(campaign)
        await session.flush()
        return await campaign_resource(session, campaign)


async def get_campaign(store: Store, principal: Principal, sid: str) -> dict[str, Any]:
    async with store.db.sessions() as session:
        return await campaign_resource(session, await owned_campaign(session, principal, sid))


async def list_campaigns(
    store: Store, principal: Principal, *, page_size: int = 50, page_token: str | None = None
) -> CampaignPage:
    asked = window(page_size, page_token, MAX_PAGE_SIZE)
    async with store.db.sessions() as session:
        found = await queries.page_of_campaigns(
            session, principal.account_id, before_id=asked.before_id, limit=asked.limit
        )
        shown, next_token = asked.page(found)
        resources = [await campaign_resource(session, c) for c in shown]
    return CampaignPage(resources, next_token)


async def launch(
    store: Store, principal: Principal, sid: str, *, clock: Clock = utcnow
) -> dict[str, Any]:
    """Fix the audience (the segment's rule as it is now, the contacts there are now) and
    hand the campaign to the fan-out: at once, or at its send_at."""
    now = clock()
    async with store.db.transaction() as session:
        campaign = await owned_campaign(session, principal, sid, for_update=True)
        check_move("launch", campaign.status)
        campaign.audience = await fixed_audience(session, principal, campaign)
        campaign.audience_until = await queries.newest_contact_id(session, principal.account_id)
        campaign.recipients = await audiences.count_contacts(
            session, principal.account_id, launched_audience(session, store, campaign, now)
        )
        later = campaign.send_at is not None and campaign.send_at > now
        campaign.status = CampaignStatus.SCHEDULED if later else CampaignStatus.SENDING
        campaign.phase = "sample" if campaign.ab_test else "all"
        campaign.launched_at = now
        campaign.date_updated = now
        return await campaign_resource(session, campaign)


async def pause(
    store: Store, principal: Principal, sid: str, *, clock: Clock = utcnow
) -> dict[str, Any]:
    """Stop the fan-out and take the campaign's waiting messages off the queue; what a
    worker already holds still goes."""
    async with store.db.transaction() as session:
        campaign = await owned_campaign(session, principal, sid, for_update=True)
        check_move("pause", campaign.status)
        campaign.status = CampaignStatus.PAUSED
        campaign.date_updated = clock()
        await queries.hold_pending(session, campaign.sid)
        return await campaign_resource(session, campaign)


async def resume(
    store: Store, principal: Principal, sid: str, *, clock: Clock = utcnow
) -> dict[str, Any]:
    now = clock()
    async with store.db.transaction() as session:
        campaign = await owned_campaign(session, principal, sid, for_update=True)
        check_move("resume", campaign.status)
        waiting = campaign.send_at is not None and campaign.send_at > now
        launched = campaign.launched_at is not None
        campaign.status = (
            CampaignStatus.SCHEDULED if waiting and launched else CampaignStatus.SENDING
        )
        campaign.date_updated = now
        await queries.release_held(session, campaign.sid, now)
        await store.signal.notify(session)
        return await campaign_resource(session, campaign)


async def cancel(
    store: Store, principal: Principal, sid: str, *, clock: Clock = utcnow
) -> dict[str, Any]:
    """Stop for good: no more fan-out, and every waiting message canceled (with its status
    callback, as any canceled message)."""
    now = clock()
    async with store.db.transaction() as session:
        campaign = await owned_campaign(session, principal, sid, for_update=True)
        check_move("cancel", campaign.status)
        campaign.status = CampaignStatus.CANCELED
        campaign.completed_at = campaign.date_updated = now
    tracker, after = Tracker(store), 0
    while True:
        async with store.db.transaction() as session:
            waiting = await queries.pending_messages(
                session, sid, after_id=after, limit=CANCEL_CHUNK
            )
            if not waiting:
                break
            changes = Changes()
            for message in waiting:
                if tracker.stage(
                    changes, message, Status.CANCELED, now, "the campaign was canceled"
                ):
                    release(message, None)
            await tracker.write(session, changes)
            await save(session, waiting)
            after = waiting[-1].id
    return await get_campaign(store, principal, sid)


async def campaign_messages(
    store: Store, principal: Principal, sid: str, *, limit: int = 50
) -> list[MessageView]:
    """The campaign's newest messages."""
    async with store.db.sessions() as session:
        campaign = await owned_campaign(session, principal, sid)
        found = await queries.newest_messages(session, campaign.sid, limit)
    return [message_view(store, m, principal.account_sid, ()) for m in found]


async def owned_campaign(
    session: AsyncSession, principal: Principal, sid: str, *, for_update: bool = False
) -> Campaign:
    campaign = await queries.campaign_by_sid(
        session, principal.account_id, sid, for_update=for_update
    )
    if campaign is None:
        raise NotFound(f"The requested resource /v1/campaigns/{sid} was not found")
    return campaign


async def campaign_resource(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    variants = campaign.variants
    single = len(variants) == 1 and not campaign.ab_test
    return {
        "sid": campaign.sid,
        "name": campaign.name,
        "status": campaign.status,
        "from": campaign.sender,
        "segment": campaign.segment_sid,
        "contacts": campaign.contact_sids,
        "channel": campaign.channel,
        "content": variants[0]["content"] if single else None,
        "variants": None if single else variants,
        "ab_test": campaign.ab_test,
        "winner": campaign.winner,
        "send_at": _iso(campaign.send_at),
        "local_send_time": campaign.local_send_time,
        "category": campaign.category,
        "budget": money(campaign.budget) if campaign.budget is not None else None,
        "committed": money(campaign.committed),
        "shorten_urls": campaign.shorten_urls,
        "link_preview": campaign.link_preview,
        "fallback_after_seconds": campaign.fallback_after_seconds,
        "status_callback": campaign.status_callback,
        "stats": await campaign_stats(session, campaign),
        "date_created": _iso(campaign.date_created),
        "date_updated": _iso(campaign.date_updated),
        "launched_at": _iso(campaign.launched_at),
        "completed_at": _iso(campaign.completed_at),
        "uri": f"/v1/campaigns/{campaign.sid}",
    }


async def _audience_source(
    session: AsyncSession, principal: Principal, body: Mapping[str, Any]
) -> tuple[str | None, list[str] | None]:
    segment, contacts = body.get("segment"), body.get("contacts")
    if (segment is None) == (contacts is None):
        raise InvalidCampaign("give a segment (SG…) or a list of contacts", field="segment")
    if segment is not None:
        if not isinstance(segment, str):
            raise InvalidCampaign("segment must be a segment SID", field="segment")
        try:
            await owned_segment(session, principal.account_id, segment)
        except NotFound:
            raise InvalidCampaign(f"segment {segment} does not exist", field="segment") from None
        return segment, None
    if not isinstance(contacts, list) or not 0 < len(contacts) <= MAX_LISTED_CONTACTS:
        raise InvalidCampaign(
            f"contacts must list 1 to {MAX_LISTED_CONTACTS} contact SIDs", field="contacts"
        )
    await _contact_ids(session, principal, contacts)
    return None, list(dict.fromkeys(contacts))


async def _contact_ids(session: AsyncSession, principal: Principal, sids: list[Any]) -> list[int]:
    found = await contact_queries.contact_ids_by_sid(
        session, principal.account_id, [s for s in sids if isinstance(s, str)]
    )
    missing = [s for s in sids if s not in found]
    if missing:
        raise InvalidCampaign(f"no such contact: {missing[0]}", field="contacts")
    return list(found.values())


async def fixed_audience(
    session: AsyncSession, principal: Principal, campaign: Campaign
) -> dict[str, Any]:
    if campaign.segment_sid is None:
        found = await contact_queries.contact_ids_by_sid(
            session, principal.account_id, campaign.contact_sids or []
        )
        return {"contact_ids": sorted(found.values())}
    try:
        segment = await owned_segment(session, principal.account_id, campaign.segment_sid)
    except NotFound:
        raise InvalidCampaign(
            f"segment {campaign.segment_sid} was deleted; create the campaign again with "
            "another segment",
            field="segment",
        ) from None
    return {"match": segment.match, "conditions": segment.conditions}


def _send_at(raw: Any, now: datetime) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidCampaign("send_at must be an RFC 3339 time with its offset", field="send_at")
    if moment <= now:
        raise InvalidCampaign("send_at must be in the future", field="send_at")
    return moment


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
