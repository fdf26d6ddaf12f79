"""A campaign's figures: its messages counted by status, channel and variant, and what they
cost. Every figure is read from the messages themselves (and the consent ledger), never
kept beside them, so it cannot drift from what the message pages show.

Clicks come from its short links (previews by link fetchers are not clicks), orders and
revenue from the orders attributed to its messages (services/orders.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain.errors import DomainError
from smsvia.services.compliance import FrequencyCapReached, NoMarketingConsent
from smsvia.services.consent import RecipientUnsubscribed
from smsvia.store import campaigns as queries
from smsvia.store import reports
from smsvia.store.campaigns import Figure
from smsvia.store.marketing_models import Campaign
from smsvia.store.reports import Count

# A message's status, as the campaign's figures count it.
_COUNTED_AS = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "canceled",
}
# Statuses of messages that went out and are paid for.
CHARGED = frozenset({"sent", "delivered", "read", "undelivered"})
EXCLUSIONS = ("opted_out", "no_consent", "over_cap", "invalid")


def excluded_reason(error: DomainError) -> str:
    """Why the compliance checks kept a recipient out, as the preview and stats name it."""
    if isinstance(error, RecipientUnsubscribed):
        return "opted_out"
    if isinstance(error, NoMarketingConsent):
        return "no_consent"
    if isinstance(error, FrequencyCapReached):
        return "over_cap"
    return "invalid"


async def ab_scores(
    session: AsyncSession, campaign_sid: str, metric: str
) -> dict[str, tuple[Decimal, Decimal]]:
    """Variant -> (its metric per message sent, its delivery rate): what an A/B test is
    decided on. The metric is messages clicked (`clicks`) or attributed orders (`orders`)."""
    sent: dict[str, int] = {}
    delivered: dict[str, int] = {}
    for figure in await queries.campaign_figures(session, campaign_sid):
        sent[figure.variant] = sent.get(figure.variant, 0) + figure.count
        if figure.status in ("delivered", "read"):
            delivered[figure.variant] = delivered.get(figure.variant, 0) + figure.count
    tracked = _tracked(
        await reports.click_counts(session, campaign_sid) if metric == "clicks" else [],
        await reports.order_counts(session, campaign_sid) if metric == "orders" else [],
    )
    scores = {}
    for name, total in sent.items():
        if total:
            wins = tracked[name].clicked if metric == "clicks" else tracked[name].orders
            scores[name] = (Decimal(wins) / total, Decimal(delivered.get(name, 0)) / total)
    return scores


async def campaign_stats(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    """The `stats` of GET /v1/campaigns/{sid}, with the same figures per variant."""
    figures = await queries.campaign_figures(session, campaign.sid)
    opted_out: dict[str, int] = {}
    for count in await reports.opt_out_counts(session, campaign.sid):
        opted_out[count.variant] = opted_out.get(count.variant, 0) + count.count
    tracked = _tracked(
        await reports.click_counts(session, campaign.sid),
        await reports.order_counts(session, campaign.sid),
    )
    excluded = sum((campaign.excluded or {}).values())
    overall = _Tracked()
    for variant_figures in tracked.values():
        overall.clicks += variant_figures.clicks
        overall.clicked += variant_figures.clicked
        overall.orders += variant_figures.orders
        overall.revenue += variant_figures.revenue
    stats = {**_sum(figures, opted_out.values()), **overall.figures()}
    stats["recipients"] = campaign.recipients
    stats["excluded"] = excluded
    stats["excluded_by_reason"] = {r: (campaign.excluded or {}).get(r, 0) for r in EXCLUSIONS}
    stats["variants"] = [
        {
            "name": variant["name"],
            **_sum(
                [f for f in figures if f.variant == variant["name"]],
                [opted_out.get(variant["name"], 0)],
                recipients=True,
            ),
            **tracked[variant["name"]].figures(),
        }
        for variant in campaign.variants
    ]
    return stats


def _sum(figures: list[Figure], opted_out: Iterable[int], *, recipients: bool = False):
    counts = dict.fromkeys(
        ("queued", "sent", "delivered", "read", "undelivered", "failed", "canceled"), 0
    )
    fallback, cost = 0, Decimal(0)
    for figure in figures:
        counts[_COUNTED_AS.get(figure.status, "queued")] += figure.count
        if figure.fallback:
            fallback += figure.count
        if figure.status in CHARGED:
            cost += figure.cost
    result: dict[str, Any] = {}
    if recipients:
        result["recipients"] = sum(f.count for f in figures)
    return {
        **result,
        **counts,
        "sent_as_sms_fallback": fallback,
        "opted_out": sum(opted_out),
        "cost": money(cost),
    }


@dataclass
class _Tracked:
    """A variant's tracking figures, over every channel."""

    clicks: int = 0
    clicked: int = 0  # messages with at least one click
    orders: int = 0
    revenue: Decimal = Decimal(0)

    def figures(self) -> dict[str, Any]:
        return {
            "clicks": self.clicks,
            "unique_clicks": self.clicked,
            "orders": self.orders,
            "revenue": money(self.revenue),
        }


def _tracked(clicks: list[Count], orders: list[Count]) -> dict[str, _Tracked]:
    """Variant -> its clicks and orders."""
    found: dict[str, _Tracked] = defaultdict(_Tracked)
    for count in clicks:
        found[count.variant].clicks += count.count
        found[count.variant].clicked += count.distinct
    for count in orders:
        found[count.variant].orders += count.count
        found[count.variant].revenue += count.amount
    return found


def money(amount: Decimal) -> str:
    """A positive decimal string without trailing zeros past the cents: 0.0158, 12.50."""
    cents = amount.quantize(Decimal("0.01"))
    return f"{cents:f}" if cents == amount else f"{amount.normalize():f}"
