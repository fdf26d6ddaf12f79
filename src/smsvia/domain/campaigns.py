"""Campaign rules with no I/O: statuses and their moves, variants and A/B slices, local send
times, and the budget.

Who gets which variant, and who is in an A/B test's sample, follows from a hash of the
campaign and the contact: the same answer every time it is asked, so a fan-out that is
stopped and resumed (or run by another worker) decides exactly as the first one would.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from smsvia.domain.errors import Conflict, DomainError

BUCKETS = 10_000  # a contact's place in a campaign, 0..9999
MAX_VARIANTS = 10


class InvalidCampaign(DomainError):
    code = 21100


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELED = "canceled"
    BUDGET_EXHAUSTED = "budget_exhausted"


FINISHED = frozenset(
    {CampaignStatus.COMPLETED, CampaignStatus.CANCELED, CampaignStatus.BUDGET_EXHAUSTED}
)
# What each action may start from.
_MOVES: Mapping[str, frozenset[CampaignStatus]] = {
    "launch": frozenset({CampaignStatus.DRAFT}),
    "pause": frozenset({CampaignStatus.SCHEDULED, CampaignStatus.SENDING}),
    "resume": frozenset({CampaignStatus.PAUSED}),
    "cancel": frozenset(
        {
            CampaignStatus.DRAFT,
            CampaignStatus.SCHEDULED,
            CampaignStatus.SENDING,
            CampaignStatus.PAUSED,
        }
    ),
    "edit": frozenset({CampaignStatus.DRAFT}),
}


def check_move(action: str, status: str) -> None:
    """Conflict (409) when `action` cannot start from `status`."""
    if CampaignStatus(status) not in _MOVES[action]:
        allowed = ", ".join(sorted(_MOVES[action]))
        raise Conflict(f"cannot {action} a {status} campaign (only {allowed})")


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    weight: int
    content: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AbTest:
    sample_percent: int  # of the audience that gets the test
    metric: str  # clicks | orders (per message sent in the sample); then delivery decides
    decide_after_minutes: int


def parse_variants(raw: Any) -> tuple[Variant, ...]:
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_VARIANTS:
        raise InvalidCampaign(
            f"variants must be a list of 2 to {MAX_VARIANTS} variants", field="variants"
        )
    variants = []
    for n, item in enumerate(raw):
        where = f"variants[{n}]"
        if not isinstance(item, Mapping):
            raise InvalidCampaign(f"{where} must be an object", field=where)
        name, weight, content = item.get("name"), item.get("weight", 1), item.get("content")
        if not isinstance(name, str) or not 0 < len(name) <= 64:
            raise InvalidCampaign(f"{where}.name must be 1 to 64 characters", field=f"{where}.name")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 < weight <= 1000:
            raise InvalidCampaign(
                f"{where}.weight must be a whole number from 1 to 1000", field=f"{where}.weight"
            )
        if not isinstance(content, Mapping):
            raise InvalidCampaign(f"{where}.content is required", field=f"{where}.content")
        variants.append(Variant(name, weight, content))
    if len({v.name for v in variants}) != len(variants):
        raise InvalidCampaign("variant names must differ", field="variants")
    return tuple(variants)


def parse_ab_test(raw: Any) -> AbTest:
    if not isinstance(raw, Mapping):
        raise InvalidCampaign("ab_test must be an object", field="ab_test")
    sample, metric = raw.get("sample_percent", 20), raw.get("metric", "clicks")
    minutes = raw.get("decide_after_minutes", 240)
    if isinstance(sample, bool) or not isinstance(sample, int) or not 1 <= sample <= 99:
        raise InvalidCampaign(
            "ab_test.sample_percent must be 1 to 99", field="ab_test.sample_percent"
        )
    if metric not in ("clicks", "orders"):
        raise InvalidCampaign("ab_test.metric must be clicks or orders", field="ab_test.metric")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 43_200:
        raise InvalidCampaign(
            "ab_test.decide_after_minutes must be 1 to 43200",
            field="ab_test.decide_after_minutes",
        )
    return AbTest(sample, metric, minutes)


def bucket(campaign_sid: str, contact_id: int) -> int:
    """The contact's fixed place in this campaign, 0..BUCKETS-1."""
    digest = hashlib.sha256(f"{campaign_sid}:{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def in_sample(place: int, sample_percent: int) -> bool:
    return place < sample_percent * BUCKETS // 100


def pick_variant(variants: Sequence[Variant], place: int) -> Variant:
    """The variant for a place, in proportion to the weights."""
    total = sum(v.weight for v in variants)
    # Spread the place over the whole range again so a sample slice (low places) still
    # splits by weight.
    point = (place * 7919) % BUCKETS * total // BUCKETS
    for variant in variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    return variants[-1]


_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_local_time(raw: Any) -> time:
    if not isinstance(raw, str) or not _HH_MM.match(raw):
        raise InvalidCampaign("local_send_time must be HH:MM (24-hour)", field="local_send_time")
    hours, minutes = raw.split(":")
    return time(int(hours), int(minutes))


def next_local(at: time, zones: Sequence[str], after: datetime) -> datetime:
    """The first moment after `after` when it is `at` in the recipient's zone. Where the
    zone is not known exactly (several candidates), the latest of them: nobody gets the
    text before `at` on their own clock."""
    moments = []
    for name in zones or ("UTC",):
        zone = ZoneInfo(name)
        local = after.astimezone(zone)
        candidate = datetime.combine(local.date(), at, tzinfo=zone)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
        moments.append(candidate.astimezone(UTC))
    return max(moments)


def parse_budget(raw: Any) -> Decimal | None:
    if raw is None:
        return None
    try:
        amount = Decimal(raw) if isinstance(raw, str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise InvalidCampaign(
            'budget must be a positive decimal string such as "250.00"', field="budget"
        )
    return amount


def within_budget(budget: Decimal | None, committed: Decimal, cost: Decimal) -> bool:
    """Whether a message costing at most `cost` may be queued."""
    return budget is None or committed + cost <= budget


LINK_PREVIEW = ("title", "description", "image")


def parse_link_preview(given: Any) -> dict[str, str] | None:
    """What link previews show instead of the destination's tags: title, description,
    image (an http(s) URL); None leaves them to the destination page."""
    if given is None:
        return None
    where = "link_preview"
    if not isinstance(given, Mapping) or not given or set(given) - set(LINK_PREVIEW):
        raise InvalidCampaign(f"{where} takes title, description and image", field=where)
    for key, value in given.items():
        if not isinstance(value, str) or not 0 < len(value) <= 1000:
            raise InvalidCampaign(f"{where}.{key} must be text up to 1000 characters", field=where)
    image = given.get("image")
    if image is not None and not image.startswith(("https://", "http://")):
        raise InvalidCampaign(f"{where}.image must be an http(s) URL", field=where)
    return dict(given)
