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

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain import campaigns as rules
from smsvia.domain.campaigns import CampaignStatus
from smsvia.domain.errors import DomainError
from smsvia.domain.pricing import PriceBook
from smsvia.domain.quiet_hours import RuleBook
from smsvia.services import compliance
from smsvia.services.accounts import Principal
from smsvia.services.campaign_plan import (
    Builder,
    Plan,
    Recipient,
    VariantPlan,
    audience_clause,
    most_it_may_cost,
    plan_of,
)
from smsvia.services.campaign_stats import ab_scores, excluded_reason
from smsvia.services.clock import Clock, utcnow
from smsvia.services.intake import CampaignLink, NewMessage, write_messages
from smsvia.services.outgoing import Outgoing
from smsvia.services.routing import sender_route
from smsvia.store import audiences
from smsvia.store import campaigns as queries
from smsvia.store.context import Store
from smsvia.store.marketing_models import Campaign

log = logging.getLogger(__name__)

BATCH = 1000  # recipients a transaction
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
    _ahead: dict[int, tuple[_Slice, asyncio.Task[_Prepared]]] = field(default_factory=dict)

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
                self._drop_ahead(campaign.id)
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
        here = _Slice.of(campaign)
        prepared = await self._take_ahead(here) or await self._prepare(here, plan, now)
        if not prepared.contacts:
            self._end_phase(campaign, plan, now)
            return False
        # The next batch is built while this one is checked and written.
        self._ahead[campaign.id] = (
            here.after(prepared.contacts[-1].id),
            asyncio.create_task(self._prepare(here.after(prepared.contacts[-1].id), plan, now)),
        )
        excluded = dict(campaign.excluded or {})
        if prepared.invalid:
            excluded["invalid"] = excluded.get("invalid", 0) + prepared.invalid
        screened = await compliance.screen(
            session, self.store, self.rules, campaign.account_id, prepared.built
        )
        principal = here.principal
        new, committed, cursor = [], campaign.committed, prepared.contacts[-1].id
        for (contact, variant), outcome in zip(prepared.picked, screened, strict=True):
            if isinstance(outcome, DomainError):
                reason = excluded_reason(outcome)
                excluded[reason] = excluded.get(reason, 0) + 1
                continue
            cost = most_it_may_cost(outcome)
            if not rules.within_budget(campaign.budget, committed, cost):
                campaign.status = CampaignStatus.BUDGET_EXHAUSTED
                campaign.completed_at = now
                cursor = contact.id - 1
                self._drop_ahead(campaign.id)
                break
            committed += cost
            link = CampaignLink(campaign.sid, contact.id, variant.variant.name)
            new.append(NewMessage(principal, outcome, prepared.connector_id, now, link))
        await write_messages(session, self.store, new)
        campaign.cursor = cursor
        campaign.committed = committed
        campaign.excluded = excluded
        campaign.date_updated = now
        return campaign.status == CampaignStatus.SENDING

    async def _prepare(self, here: _Slice, plan: Plan, now: datetime) -> _Prepared:
        """The next batch's contacts and their messages, built: rendered, priced, routed.
        Reads in its own session and writes nothing, so it can run ahead of the writes."""
        async with self.store.db.sessions() as session:
            who = audience_clause(session, self.store, here.audience, here.until, now)
            contacts = list(
                await audiences.recipients_after(
                    session, here.account_id, who, here.cursor, self.batch
                )
            )
        route = await sender_route(self.store, here.principal, here.sender)
        builder = Builder(self.store, route, self.price_book, self.public_url, self.default_region)
        prepared = _Prepared(contacts, [], [], 0, route.connector_id)
        for n, contact in enumerate(contacts):
            if n % 100 == 99:
                await asyncio.sleep(0)  # let the writes of the batch before go on meanwhile
            variant = self._variant_for(here, plan, contact)
            if variant is None:
                continue  # in the other phase of an A/B test
            try:
                outgoing = builder.message(plan, variant, contact, now)
            except DomainError as exc:
                log.info("campaign %s: contact %s skipped: %s", plan.sid, contact.sid, exc)
                prepared.invalid += 1
                continue
            prepared.picked.append((contact, variant))
            prepared.built.append(outgoing)
        return prepared

    async def _take_ahead(self, here: _Slice) -> _Prepared | None:
        """The batch built ahead for exactly this point of the campaign, if there is one."""
        ahead = self._ahead.pop(here.campaign_id, None)
        if ahead is None:
            return None
        key, task = ahead
        if key != here:  # paused, canceled, taken by another worker, a new phase
            task.cancel()
            return None
        return await task

    def close(self) -> None:
        """Drop the batches built ahead (the process is stopping; nothing was written)."""
        for campaign_id in list(self._ahead):
            self._drop_ahead(campaign_id)

    def _drop_ahead(self, campaign_id: int) -> None:
        ahead = self._ahead.pop(campaign_id, None)
        if ahead is not None:
            ahead[1].cancel()

    def _variant_for(self, campaign: _Slice, plan: Plan, contact: Recipient) -> VariantPlan | None:
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
        """The A/B winner: the most clicks (messages clicked) or orders per message in the
        sample, as the test says; then the best delivery rate; then the first variant."""
        metric = plan.ab_test.metric if plan.ab_test else "clicks"
        rates = await ab_scores(session, campaign.sid, metric)
        names = [v.variant.name for v in plan.variants]
        nothing = (Decimal(0), Decimal(0))
        campaign.winner = max(
            names, key=lambda name: (*rates.get(name, nothing), -names.index(name))
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


@dataclass(frozen=True)
class _Slice:
    """Where a campaign's fan-out stands, as a batch is built from it; equal slices mean the
    same next batch."""

    campaign_id: int
    sid: str
    account_id: int
    sender: str
    audience: Mapping[str, Any] = field(hash=False, compare=False)
    until: int | None
    phase: str
    winner: str | None
    cursor: int

    @classmethod
    def of(cls, campaign: Campaign) -> _Slice:
        return cls(
            campaign.id,
            campaign.sid,
            campaign.account_id,
            campaign.sender,
            campaign.audience or {},
            campaign.audience_until,
            campaign.phase,
            campaign.winner,
            campaign.cursor,
        )

    def after(self, contact_id: int) -> _Slice:
        return replace(self, cursor=contact_id)

    @property
    def principal(self) -> Principal:
        return Principal(self.account_id, "", "", f"campaign {self.sid}")


@dataclass
class _Prepared:
    contacts: list[Recipient]  # none: the phase is done
    picked: list[tuple[Recipient, VariantPlan]]
    built: list[Outgoing]
    invalid: int
    connector_id: int


_NOT_DONE = frozenset({"accepted", "scheduled", "queued", "sending"})
