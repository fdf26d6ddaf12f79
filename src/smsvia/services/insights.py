"""What to change next (GET /v1/insights and the dashboard): suggestions drawn from the
account's campaigns of the last 90 days, each with the figures it rests on.

* A/B tests: which variant won, on what, by how much.
* Send hour: the hour of day (UTC) whose texts were clicked and bought from most per
  delivered message, against the average.
* Channel: RCS against texts sent as SMS after RCS was tried, clicks and orders per
  delivered message.
* Segments whose recipients opt out often after a campaign (2% or more).

A suggestion needs enough behind it: a send hour or channel with fewer than MIN_DELIVERED
delivered texts, or a segment with fewer than MIN_MESSAGES texts, says nothing yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from smsvia.services.accounts import Principal
from smsvia.services.campaign_report import tallies
from smsvia.services.clock import Clock, utcnow
from smsvia.store import campaigns as campaign_queries
from smsvia.store import insights as queries
from smsvia.store.context import Store
from smsvia.store.insights import Figures

LOOK_BACK = timedelta(days=90)
MIN_DELIVERED = 20
MIN_MESSAGES = 20
HIGH_OPT_OUT = 0.02
AB_TESTS = 10  # the newest A/B tests shown


@dataclass(frozen=True)
class Suggestion:
    kind: str  # ab_test | send_hour | channel | segment_opt_outs
    title: str
    detail: str
    figures: dict[str, Any] = field(default_factory=dict)


async def insights(store: Store, principal: Principal, *, clock: Clock = utcnow) -> dict[str, Any]:
    since = clock() - LOOK_BACK
    async with store.db.sessions() as session:
        hours = await queries.by_send_hour(session, principal.account_id, since)
        channels = await queries.by_channel(session, principal.account_id, since)
        segments = await queries.segment_opt_outs(session, principal.account_id, since)
        tests = await campaign_queries.ab_tests(session, principal.account_id, limit=AB_TESTS)
    found = [await _ab_test(store, campaign) for campaign in tests]
    found += [_send_hour(hours), _channel(channels), *_segments(segments)]
    shown = [s for s in found if s is not None]
    return {
        "since": since.isoformat(),
        "suggestions": [
            {"kind": s.kind, "title": s.title, "detail": s.detail, "figures": s.figures}
            for s in shown
        ],
    }


async def _ab_test(store: Store, campaign) -> Suggestion | None:
    metric = (campaign.ab_test or {}).get("metric", "clicks")
    found = await tallies(store, campaign.sid)
    rows = []
    for variant in campaign.variants:
        name = variant["name"]
        sent = sum(t.recipients for (v, _), t in found.items() if v == name)
        clicked = sum(t.unique_clicks for (v, _), t in found.items() if v == name)
        orders = sum(t.orders for (v, _), t in found.items() if v == name)
        wins = clicked if metric == "clicks" else orders
        rows.append({"name": name, "messages": sent, metric: wins, "rate": _rate(wins, sent)})
    if not any(r["messages"] for r in rows):
        return None
    best = max(rows, key=lambda r: r["rate"])
    if campaign.winner:
        title = f"“{campaign.name}”: variant {campaign.winner} won on {metric}"
        detail = f"It went to the rest of the audience. Write the next one like {campaign.winner}."
    else:
        title = f"“{campaign.name}”: variant {best['name']} leads on {metric}"
        detail = "The test is not decided yet."
    shares = ", ".join(f"{r['name']} {_percent(r['rate'])}" for r in rows)
    return Suggestion(
        "ab_test",
        title,
        f"{metric.capitalize()} per message: {shares}. {detail}",
        {"campaign": campaign.sid, "metric": metric, "variants": rows},
    )


def _send_hour(hours: dict[int, Figures]) -> Suggestion | None:
    rated = {h: f for h, f in hours.items() if f.delivered >= MIN_DELIVERED}
    if not rated:
        return None
    delivered = sum(f.delivered for f in rated.values())
    average = _rate(sum(f.clicked + f.orders for f in rated.values()), delivered)
    best_hour = max(rated, key=lambda hour: (_engagement(rated[hour]), -hour))
    score = _engagement(rated[best_hour])
    return Suggestion(
        "send_hour",
        f"Send at {best_hour:02d}:00 UTC",
        f"Texts sent then drew {_percent(score)} clicks and orders per delivered message, "
        f"against {_percent(average)} over every hour.",
        {
            "best_hour_utc": best_hour,
            "hours": [
                {
                    "hour_utc": hour,
                    "delivered": f.delivered,
                    "clicked": f.clicked,
                    "orders": f.orders,
                    "click_rate": _rate(f.clicked, f.delivered),
                    "order_rate": _rate(f.orders, f.delivered),
                }
                for hour, f in sorted(hours.items())
            ],
        },
    )


def _channel(channels: dict[str, Figures]) -> Suggestion | None:
    rcs, fallback = channels.get("rcs"), channels.get("sms_fallback")
    if rcs is None or fallback is None:
        return None
    if min(rcs.delivered, fallback.delivered) < MIN_DELIVERED:
        return None
    rcs_rate = _rate(rcs.clicked, rcs.delivered)
    sms_rate = _rate(fallback.clicked, fallback.delivered)
    figures = {
        name: {
            "delivered": f.delivered,
            "clicked": f.clicked,
            "orders": f.orders,
            "click_rate": _rate(f.clicked, f.delivered),
            "order_rate": _rate(f.orders, f.delivered),
        }
        for name, f in (("rcs", rcs), ("sms_fallback", fallback))
    }
    if rcs_rate >= sms_rate:
        title = "RCS draws more clicks than its SMS fallback"
        advice = "Keep RCS first; rich cards and buttons pay."
    else:
        title = "The SMS fallback draws more clicks than RCS"
        advice = "Check the rich card: its button and picture may hide the offer."
    return Suggestion(
        "channel",
        title,
        f"Clicked: RCS {_percent(rcs_rate)}, sent as SMS {_percent(sms_rate)} of delivered "
        f"texts; orders: RCS {_percent(figures['rcs']['order_rate'])}, SMS "
        f"{_percent(figures['sms_fallback']['order_rate'])}. {advice}",
        figures,
    )


def _segments(segments: list[queries.SegmentOptOuts]) -> list[Suggestion]:
    found = []
    for segment in sorted(segments, key=lambda s: -_rate(s.opted_out, s.messages)):
        rate = _rate(segment.opted_out, segment.messages)
        if segment.messages < MIN_MESSAGES or rate < HIGH_OPT_OUT:
            continue
        found.append(
            Suggestion(
                "segment_opt_outs",
                f"Segment “{segment.name}” opts out often",
                f"{segment.opted_out} of {segment.messages} texts ({_percent(rate)}) were "
                "followed by a STOP. Text it less often, or narrow it to recent buyers.",
                {
                    "segment": segment.sid,
                    "messages": segment.messages,
                    "opted_out": segment.opted_out,
                    "opt_out_rate": rate,
                },
            )
        )
    return found


def _engagement(figures: Figures) -> float:
    """Clicks and orders per delivered message."""
    return _rate(figures.clicked + figures.orders, figures.delivered)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"
