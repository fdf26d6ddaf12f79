"""What a campaign will cost and whom it will reach, worked out for every recipient before
anything is sent.

The preview streams the whole audience through the same steps as the fan-out (render,
encode, price, route, the compliance checks), a batch at a time, writing nothing. So its
count of eligible recipients, its exclusions by reason and its cost are the fan-out's, give
or take what changes in between (a STOP, a new contact). RCS messages are priced at the
dearer of RCS and the SMS they may fall back to, as the budget counts them; recipients of an
A/B test's remainder at their weighted variant, as the winner is not known yet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from smsvia.domain import campaigns as rules
from smsvia.domain import links
from smsvia.domain.encoding import segment
from smsvia.domain.errors import DomainError
from smsvia.domain.personalization import variables_of
from smsvia.domain.pricing import PriceBook
from smsvia.domain.quiet_hours import RuleBook
from smsvia.domain.rcs_input import parse_rich_content
from smsvia.domain.rendering import rich_sms_text
from smsvia.services import compliance
from smsvia.services.accounts import Principal
from smsvia.services.campaign_input import check_settings
from smsvia.services.campaign_plan import (
    Builder,
    Plan,
    Recipient,
    VariantPlan,
    audience_clause,
    most_it_may_cost,
    plan_of,
    shortened,
)
from smsvia.services.campaign_stats import EXCLUSIONS, excluded_reason, money
from smsvia.services.campaigns import fixed_audience, owned_campaign
from smsvia.services.clock import Clock, utcnow
from smsvia.services.outgoing import Outgoing
from smsvia.services.routing import sender_route
from smsvia.services.segments import owned_segment
from smsvia.store import audiences
from smsvia.store import campaigns as queries
from smsvia.store.context import Store
from smsvia.store.marketing_models import Campaign

BATCH = 1000
SAMPLES = 5


@dataclass
class _Tally:
    recipients: int = 0
    eligible: int = 0
    excluded: Counter[str] = field(default_factory=Counter)
    total: Decimal = Decimal(0)
    currency: str = "USD"
    sms_segments: int = 0
    rcs_messages: int = 0
    mms_messages: int = 0
    longer: int = 0  # texts personalization made longer than the template alone
    ucs2: int = 0  # texts personalization turned UCS-2
    samples: list[dict[str, Any]] = field(default_factory=list)


async def preview(
    store: Store,
    principal: Principal,
    sid: str,
    *,
    price_book: PriceBook,
    rules_book: RuleBook,
    public_url: str,
    default_region: str = "US",
    clock: Clock = utcnow,
) -> dict[str, Any]:
    now = clock()
    tally = _Tally()
    async with store.db.sessions() as session:
        campaign = await owned_campaign(session, principal, sid)
        plan = plan_of(campaign)
        route = await sender_route(store, principal, campaign.sender)
        builder = Builder(store, route, price_book, public_url, default_region)
        if campaign.audience is None:  # a draft: the audience as it would be fixed now
            fixed = await fixed_audience(session, principal, campaign)
            until = await queries.newest_contact_id(session, principal.account_id)
        else:
            fixed, until = campaign.audience, campaign.audience_until
        who = audience_clause(session, store, fixed, until, now)
        bases = {v.variant.name: _base(plan, v, public_url) for v in plan.variants}
        cursor = 0
        while True:
            contacts = await audiences.recipients_after(
                session, principal.account_id, who, cursor, BATCH
            )
            if not contacts:
                break
            cursor = contacts[-1].id
            tally.recipients += len(contacts)
            built, picked = [], []
            for contact in contacts:
                variant = _variant(campaign.sid, plan, contact)
                try:
                    outgoing = builder.message(plan, variant, contact, now)
                except DomainError:
                    tally.excluded["invalid"] += 1
                    continue
                built.append(outgoing)
                picked.append((contact, variant))
            screened = await compliance.screen(
                session, store, rules_book, principal.account_id, built
            )
            for (contact, variant), outcome in zip(picked, screened, strict=True):
                if isinstance(outcome, DomainError):
                    tally.excluded[excluded_reason(outcome)] += 1
                    continue
                _count(tally, contact, variant, outcome, bases[variant.variant.name])
    return _result(tally, campaign.budget)


async def draft_preview(
    store: Store,
    principal: Principal,
    body: Mapping[str, Any],
    *,
    price_book: PriceBook,
    rules_book: RuleBook,
    public_url: str,
    default_region: str = "US",
    clock: Clock = utcnow,
) -> dict[str, Any]:
    """What the dashboard's builder shows while a campaign is being written, before it is
    saved: the segment's live count, the texts of its first few contacts (rendered,
    encoded, priced, checked) and the cost if every recipient cost what those do."""
    settings = check_settings(body)
    now = clock()
    draft = Campaign(sid="CM-draft", **settings, send_at=None)
    plan = plan_of(draft)
    route = await sender_route(store, principal, settings["sender"])
    builder = Builder(store, route, price_book, public_url, default_region)
    tally = _Tally()
    async with store.db.sessions() as session:
        segment = await owned_segment(session, principal.account_id, str(body.get("segment")))
        fixed = {"match": segment.match, "conditions": segment.conditions}
        who = audience_clause(session, store, fixed, None, now)
        count = await audiences.count_contacts(session, principal.account_id, who)
        first = await audiences.recipients_after(session, principal.account_id, who, 0, SAMPLES)
        built = [builder.message(plan, plan.variants[0], contact, now) for contact in first]
        screened = await compliance.screen(session, store, rules_book, principal.account_id, built)
    base = _base(plan, plan.variants[0], public_url)
    for contact, outcome in zip(first, screened, strict=True):
        if isinstance(outcome, DomainError):
            tally.excluded[excluded_reason(outcome)] += 1
        else:
            _count(tally, contact, plan.variants[0], outcome, base)
    each = tally.total / tally.eligible if tally.eligible else Decimal(0)
    result = _result(tally, None)
    result["recipients"] = count
    result["estimated_cost"]["total"] = money(each * count)
    result["estimated_from"] = tally.eligible
    return result


def _variant(campaign_sid: str, plan: Plan, contact: Recipient) -> VariantPlan:
    if len(plan.variants) == 1:
        return plan.variants[0]
    place = rules.bucket(campaign_sid, contact.id)
    chosen = rules.pick_variant([v.variant for v in plan.variants], place)
    return plan.variant(chosen.name)


def _base(plan: Plan, variant: VariantPlan, public_url: str) -> tuple[str, int]:
    """The encoding and segments of the variant's SMS text with nothing personal in it
    (its links shortened as the recipients' will be)."""
    rendered, _ = shortened(plan, variant.render(variables_of({})), public_url)
    content = parse_rich_content(rendered)
    shaped = segment(rich_sms_text(content), smart_encoding=True)
    return str(shaped.encoding), shaped.segments


def _count(
    tally: _Tally,
    contact: Recipient,
    variant: VariantPlan,
    outgoing: Outgoing,
    base: tuple[str, int],
) -> None:
    tally.eligible += 1
    tally.total += most_it_may_cost(outgoing)
    tally.currency = outgoing.currency
    if outgoing.channel == "rcs":
        tally.rcs_messages += 1
    elif outgoing.channel == "mms":
        tally.mms_messages += 1
    else:
        tally.sms_segments += outgoing.segments
    base_encoding, base_segments = base
    if outgoing.segments > base_segments:
        tally.longer += 1
    if outgoing.encoding == "UCS-2" and base_encoding != "UCS-2":
        tally.ucs2 += 1
    if len(tally.samples) < SAMPLES:
        tally.samples.append(
            {
                "contact": contact.sid,
                "variant": variant.variant.name,
                "channel": outgoing.channel,
                "text": links.fill(outgoing.body, [links.new_code() for _ in outgoing.links]),
                "encoding": outgoing.encoding,
                "segments": outgoing.segments,
                "price": money(most_it_may_cost(outgoing)),
                "send_at": outgoing.send_at.isoformat() if outgoing.send_at else None,
            }
        )


def _result(tally: _Tally, budget: Decimal | None) -> dict[str, Any]:
    warnings = []
    if tally.longer:
        warnings.append(
            f"{tally.longer} text(s) need more SMS segments than the template alone: "
            "personalized values make them longer"
        )
    if tally.ucs2:
        warnings.append(
            f"{tally.ucs2} text(s) are sent as UCS-2 (70 characters a segment): personalized "
            "values hold characters GSM-7 cannot carry"
        )
    if budget is not None and tally.total > budget:
        warnings.append(
            f"the budget {money(budget)} is less than the estimated {money(tally.total)}: "
            "the campaign stops when it is reached (budget_exhausted)"
        )
    return {
        "recipients": tally.recipients,
        "eligible": tally.eligible,
        "excluded": {reason: tally.excluded.get(reason, 0) for reason in EXCLUSIONS},
        "estimated_cost": {
            "total": money(tally.total),
            "currency": tally.currency,
            "sms_segments": tally.sms_segments,
            "rcs_messages": tally.rcs_messages,
            "mms_messages": tally.mms_messages,
        },
        "samples": tally.samples,
        "warnings": warnings,
    }
