"""A launched campaign becomes messages: its audience streamed in id order, a batch per
transaction, never a list in memory.

Each batch locks the campaign row, reads the next contacts after its `cursor`, builds their
messages (services/campaign_plan.py), runs the same compliance checks as any send, and writes
the messages, the new cursor and the counters in that one transaction. A crash anywhere
loses the batch's transaction and nothing else; the next run starts from the cursor that
committed, and the unique (campaign, contact) index makes a second message to anyone
impossible. On PostgreSQL the row lock is taken with SKIP LOCKED, so several workers share
the campaigns and never the same batch.

An A/B test fans out in two phases: the sample (the variants by weight), a wait, then the
rest with the winner.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain import campaigns as rules
from smsvia.domain.campaigns import CampaignStatus
from smsvia.domain.errors import DomainError
from smsvia.domain.pricing import PriceBook
from smsvia.domain.quiet_hours import RuleBook
from smsvia.services import compliance
from smsvia.services.accounts import Principal
from smsvia.services.campaign_plan import (
    Plan,
    VariantPlan,
    facts_of,
    launched_audience,
    message_for,
    most_it_may_cost,
    plan_of,
)
from smsvia.services.campaign_stats import delivery_rates, excluded_reason
from smsvia.services.clock import Clock, utcnow
from smsvia.services.intake import CampaignLink, NewMessage, write_messages
from smsvia.services.routing import sender_route
from smsvia.store import audiences
from smsvia.store import campaigns as queries
from smsvia.store.context import Store
from smsvia.store.marketing_models import Campaign, Contact

log = logging.getLogger(__name__)

BATCH = 500  # recipients a transaction
COMPLETION_CHECK = 10.0  # seconds between looks at whether a campaign's messages are done


@dataclass
class Fanout:
    """Moves every active campaign forward; the dispatch calls `advance` in a loop."""

    store: Store
    price_book: PriceBook
    rules: RuleBook
    public_url: str
    default_region: str = "US"
    clock: Clock = utcnow
    batch: int = BATCH
    completion_check: float = COMPLETION_CHECK
    _plans: dict[tuple[int, datetime], Plan] = field(default_factory=dict)
    _checked: dict[int, float] = field(default_factory=dict)

    async def advance(self) -> bool:
        """One step of every active campaign; True while some have batches ready now."""
        async with self.store.db.sessions() as session:
            active = await queries.active_campaigns(session)
        busy = False
        for campaign_id in active:
            try:
                busy |= await self.step(campaign_id)
            except DomainError as exc:
                log.warning("campaign %d cannot fan out now: %s", campaign_id, exc.message)
        return busy

    async def step(self, campaign_id: int) -> bool:
        """One batch of one campaign (or its next move); True if another batch is ready."""
        now = self.clock()
        async with self.store.db.transaction() as session:
            campaign = await queries.lock_for_fanout(session, campaign_id)
            if campaign is None:  # another worker has it
                return False
            if campaign.status == CampaignStatus.SCHEDULED:
                if campaign.send_at is not None and campaign.send_at > now:
                    return False
                campaign.status = CampaignStatus.SENDING
            if campaign.status != CampaignStatus.SENDING:
                return False
            if campaign.fanned_out_at is not None:
                await self._complete_when_done(session, campaign, now)
                return False
            plan = self._plan(campaign)
            if campaign.phase == "wait":
                if campaign.decide_at is None or campaign.decide_at > now:
                    return False
                await self._decide(session, campaign, plan, now)
            return await self._batch(session, campaign, plan, now)

    async def _batch(
        self, session: AsyncSession, campaign: Campaign, plan: Plan, now: datetime
    ) -> bool:
        who = launched_audience(session, self.store, campaign, now)
        contacts = await audiences.contacts_in(
            session, campaign.account_id, who, after_id=campaign.cursor, limit=self.batch
        )
        if not contacts:
            self._end_phase(campaign, plan, now)
            return False
        principal = Principal(campaign.account_id, "", "", f"campaign {campaign.sid}")
        route = await sender_route(self.store, principal, campaign.sender)
        excluded = dict(campaign.excluded or {})
        picked: list[tuple[Contact, VariantPlan]] = []
        built = []
        for contact in contacts:
            variant = self._variant_for(campaign, plan, contact)
            if variant is None:
                continue  # in the other phase of an A/B test
            try:
                outgoing = message_for(
                    plan,
                    variant,
                    facts_of(self.store, contact, plan.uses),
                    route=route,
                    price_book=self.price_book,
                    public_url=self.public_url,
                    default_region=self.default_region,
                    now=now,
                )
            except DomainError as exc:
                log.info("campaign %s: contact %s skipped: %s", plan.sid, contact.sid, exc)
                excluded["invalid"] = excluded.get("invalid", 0) + 1
                continue
            picked.append((contact, variant))
            built.append(outgoing)
        screened = await compliance.screen(
            session, self.store, self.rules, campaign.account_id, built
        )
        new, committed, cursor = [], campaign.committed, contacts[-1].id
        for (contact, variant), outcome in zip(picked, screened, strict=True):
            if isinstance(outcome, DomainError):
                reason = excluded_reason(outcome)
                excluded[reason] = excluded.get(reason, 0) + 1
                continue
            cost = most_it_may_cost(outcome)
            if not rules.within_budget(campaign.budget, committed, cost):
                campaign.status = CampaignStatus.BUDGET_EXHAUSTED
                campaign.completed_at = now
                cursor = contact.id - 1
                break
            committed += cost
            link = CampaignLink(campaign.sid, contact.id, variant.variant.name)
            new.append(NewMessage(principal, outcome, route.connector_id, now, link))
        await write_messages(session, self.store, new)
        campaign.cursor = cursor
        campaign.committed = committed
        campaign.excluded = excluded
        campaign.date_updated = now
        return campaign.status == CampaignStatus.SENDING

    def _variant_for(self, campaign: Campaign, plan: Plan, contact: Contact) -> VariantPlan | None:
        if len(plan.variants) == 1:
            return plan.variants[0]
        place = rules.bucket(campaign.sid, contact.id)
        if campaign.phase == "rest":
            assert campaign.winner is not None
            if plan.ab_test is not None and rules.in_sample(place, plan.ab_test.sample_percent):
                return None
            return plan.variant(campaign.winner)
        if campaign.phase == "sample":
            assert plan.ab_test is not None
            if not rules.in_sample(place, plan.ab_test.sample_percent):
                return None
        chosen = rules.pick_variant([v.variant for v in plan.variants], place)
        return plan.variant(chosen.name)

    def _end_phase(self, campaign: Campaign, plan: Plan, now: datetime) -> None:
        if campaign.phase == "sample":
            assert plan.ab_test is not None
            campaign.phase = "wait"
            campaign.decide_at = now + timedelta(minutes=plan.ab_test.decide_after_minutes)
        else:
            campaign.fanned_out_at = now
        campaign.date_updated = now

    async def _decide(
        self, session: AsyncSession, campaign: Campaign, plan: Plan, now: datetime
    ) -> None:
        """The A/B winner: the best delivery rate in the sample (clicks and orders count
        once tracking records them); ties go to the first variant."""
        rates = await delivery_rates(session, campaign.sid)
        names = [v.variant.name for v in plan.variants]
        campaign.winner = max(
            names, key=lambda name: (rates.get(name, Decimal(0)), -names.index(name))
        )
        campaign.phase = "rest"
        campaign.cursor = 0
        log.info("campaign %s: variant %s won (%s)", campaign.sid, campaign.winner, rates)

    async def _complete_when_done(
        self, session: AsyncSession, campaign: Campaign, now: datetime
    ) -> None:
        last = self._checked.get(campaign.id, 0.0)
        if time.monotonic() - last < self.completion_check:
            return
        self._checked[campaign.id] = time.monotonic()
        figures = await queries.campaign_figures(session, campaign.sid)
        if not any(f.status in _NOT_DONE for f in figures):
            campaign.status = CampaignStatus.COMPLETED
            campaign.completed_at = now
            campaign.date_updated = now
            self._checked.pop(campaign.id, None)

    def _plan(self, campaign: Campaign) -> Plan:
        key = (campaign.id, campaign.date_created)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 100:
                self._plans.clear()
            plan = self._plans[key] = plan_of(campaign)
        return plan


_NOT_DONE = frozenset({"accepted", "scheduled", "queued", "sending"})
