"""A campaign's report: per variant and per channel (RCS, SMS, "Sent as SMS via server"),
what was sent, delivered, clicked and bought, what it cost and what it earned; clicks and
orders by hour. JSON for the API and the dashboard, CSV (one row per variant and channel)
for a spreadsheet.

Every figure is counted from the messages, clicks and attributed orders themselves
(store/reports.py), so it agrees with what the message pages show.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from smsvia.services.accounts import Principal
from smsvia.services.campaign_stats import CHARGED, money
from smsvia.services.campaigns import owned_campaign
from smsvia.store import reports as queries
from smsvia.store.context import Store
from smsvia.store.marketing_models import Campaign

CHANNELS = ("rcs", "sms", "sms_fallback")  # always shown; "mms" when a campaign used it
DELIVERED = frozenset({"delivered", "read"})


@dataclass
class Tally:
    recipients: int = 0
    delivered: int = 0
    clicks: int = 0
    unique_clicks: int = 0
    orders: int = 0
    revenue: Decimal = Decimal(0)
    opt_outs: int = 0
    cost: Decimal = Decimal(0)

    def __iadd__(self, other: Tally) -> Tally:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))
        return self

    def figures(self) -> dict[str, Any]:
        return {
            "recipients": self.recipients,
            "delivered": self.delivered,
            "delivery_rate": _rate(self.delivered, self.recipients),
            "clicks": self.clicks,
            "unique_clicks": self.unique_clicks,
            "click_rate": _rate(self.unique_clicks, self.delivered),
            "orders": self.orders,
            "revenue": money(self.revenue),
            "conversion_rate": _rate(self.orders, self.delivered),
            "opt_outs": self.opt_outs,
            "cost": money(self.cost),
            "revenue_per_message": money(
                (self.revenue / self.recipients).quantize(Decimal("0.0001"))
                if self.recipients
                else Decimal(0)
            ),
            "return_on_spend": (float(round(self.revenue / self.cost, 2)) if self.cost else None),
        }


async def tallies(store: Store, campaign_sid: str) -> dict[tuple[str, str], Tally]:
    """(variant, channel) -> its figures."""
    found: dict[tuple[str, str], Tally] = defaultdict(Tally)
    async with store.db.sessions() as session:
        for count in await queries.message_counts(session, campaign_sid):
            tally = found[count.variant, count.channel]
            tally.recipients += count.count
            if count.status in DELIVERED:
                tally.delivered += count.count
            if count.status in CHARGED:
                tally.cost += count.amount
        for count in await queries.click_counts(session, campaign_sid):
            found[count.variant, count.channel].clicks += count.count
            found[count.variant, count.channel].unique_clicks += count.distinct
        for count in await queries.order_counts(session, campaign_sid):
            found[count.variant, count.channel].orders += count.count
            found[count.variant, count.channel].revenue += count.amount
        for count in await queries.opt_out_counts(session, campaign_sid):
            found[count.variant, count.channel].opt_outs += count.count
    return found


async def campaign_report(store: Store, principal: Principal, sid: str) -> dict[str, Any]:
    async with store.db.sessions() as session:
        campaign = await owned_campaign(session, principal, sid)
        clicks = await queries.clicks_by_hour(session, sid)
        orders = await queries.orders_by_hour(session, sid)
    found = await tallies(store, sid)
    return {
        "campaign": {"sid": campaign.sid, "name": campaign.name, "status": campaign.status},
        "totals": _overall(found).figures(),
        "variants": _variants(campaign, found),
        "by_hour": [
            {
                "hour": hour.isoformat(),
                "clicks": clicks.get(hour, 0),
                "orders": orders.get(hour, (0, Decimal(0)))[0],
                "revenue": money(orders.get(hour, (0, Decimal(0)))[1]),
            }
            for hour in sorted(set(clicks) | set(orders))
        ],
    }


def _variants(campaign: Campaign, found: dict[tuple[str, str], Tally]) -> list[dict[str, Any]]:
    used = {channel for _, channel in found}
    channels = [*CHANNELS, *sorted(used - set(CHANNELS))]
    shown = []
    for variant in campaign.variants:
        name = variant["name"]
        overall = Tally()
        for channel in channels:
            overall += found.get((name, channel), Tally())
        shown.append(
            {
                "name": name,
                **overall.figures(),
                "channels": {c: found.get((name, c), Tally()).figures() for c in channels},
            }
        )
    return shown


def _overall(found: dict[tuple[str, str], Tally]) -> Tally:
    overall = Tally()
    for tally in found.values():
        overall += tally
    return overall


def report_csv(report: dict[str, Any]) -> str:
    """One row per variant and channel, the figures in the JSON's order."""
    out = io.StringIO()
    writer = csv.writer(out)
    first = report["variants"][0]["channels"]
    columns = list(next(iter(first.values())))
    writer.writerow(["campaign", "variant", "channel", *columns])
    for variant in report["variants"]:
        for channel, figures in variant["channels"].items():
            writer.writerow(
                [report["campaign"]["sid"], variant["name"], channel]
                + ["" if figures[c] is None else figures[c] for c in columns]
            )
    return out.getvalue()


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
