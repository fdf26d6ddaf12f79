"""What a campaign sends, worked out once: its checked settings, its variants' templates, and
for each recipient the message as it will be queued (rendered, encoded, priced, routed).

The preview and the fan-out both build their messages here, so what the preview prices is
what the fan-out queues.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain import campaigns as rules
from smsvia.domain.audience import parse_audience
from smsvia.domain.campaigns import AbTest, InvalidCampaign, Variant
from smsvia.domain.errors import DomainError
from smsvia.domain.links import Shortener
from smsvia.domain.personalization import Template, parse_template, variables_of
from smsvia.domain.phone import parse_phone
from smsvia.domain.pricing import PriceBook
from smsvia.domain.quiet_hours import recipient_zones
from smsvia.domain.rcs_input import parse_rich_content
from smsvia.domain.status import Status
from smsvia.services.messages import RichRequest, rich_outgoing, route_rich
from smsvia.services.outgoing import Outgoing
from smsvia.services.routing import SenderRoute
from smsvia.services.segments import audience_filter
from smsvia.store import audiences
from smsvia.store.context import Store
from smsvia.store.marketing_models import Campaign, Contact

# Strings of the content a template may personalize, by path; URLs and postbacks stay fixed.
_TEMPLATED = ("text", "title", "description")
_SEALED = {
    "first_name": "contact.first_name",
    "last_name": "contact.last_name",
    "email": "contact.email",
}
Tuple = tuple[str | int, ...]
# Values as JSON (which tells 1 from 1.0 and true, as rendering does), one encoder for all.
_as_key = json.JSONEncoder(sort_keys=True, default=str).encode
VALIDITY = timedelta(hours=10)  # Twilio's default validity, from the moment it is due
MAX_BUILT = 20_000  # distinct texts kept per campaign


class Recipient(Protocol):
    """What building a message reads of a contact: a Contact, or the plain row that
    store/audiences.recipients_after reads for a campaign."""

    id: int
    sid: str
    phone: bytes
    email: bytes | None
    first_name: bytes | None
    last_name: bytes | None
    attributes: bytes | None
    tags: list[str] | None
    time_zone: str | None
    country: str | None
    state: str | None
    orders_count: int
    total_spent: Decimal


@dataclass(frozen=True)
class VariantPlan:
    variant: Variant
    templates: Mapping[tuple[str | int, ...], Template]  # path in the content -> template

    def render(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        content = copy.deepcopy(dict(self.variant.content))
        for path, template in self.templates.items():
            _set(content, path, template.render(variables))
        return content

    @cached_property
    def names(self) -> tuple[str, ...]:
        """The variables its templates read, in a fixed order."""
        return tuple(sorted({name for t in self.templates.values() for name in t.names}))

    def values_key(self, variables: Mapping[str, Any]) -> str:
        """What its rendering depends on: equal keys render equal content."""
        return _as_key([variables.get(name) for name in self.names])


@dataclass(frozen=True)
class Plan:
    """A campaign, ready to build its recipients' messages."""

    sid: str
    sender: str
    channel: str
    category: str
    variants: tuple[VariantPlan, ...]
    ab_test: AbTest | None
    local_time: time | None
    send_at: datetime | None
    fallback_after: int | None
    status_callback: str | None
    uses: frozenset[str]  # the contact fields the templates name
    shorten_urls: bool = True
    # Messages already built, by variant, rendered content and destination country: most
    # recipients of a campaign share their text with others (the same first name, no
    # personal field at all), and encoding, pricing and routing it once is enough.
    built: dict[tuple[str, str, str], Outgoing] = field(default_factory=dict, compare=False)
    # Rendered (and shortened) content by variant and the values its templates read, with
    # its links and its text as `built` is keyed: Liquid runs once per distinct set of values.
    rendered: dict[tuple[str, str], Rendered] = field(default_factory=dict, compare=False)

    def variant(self, name: str) -> VariantPlan:
        return next(v for v in self.variants if v.variant.name == name)


def check_content(content: Any, where: str) -> dict[Tuple, Template]:
    """The content's templates by path, each parsed; the content itself checked as RBM and
    SMS would take it (with the templates' own text standing in for what they render)."""
    if not isinstance(content, Mapping):
        raise InvalidCampaign(f"{where} must be an object with text or a rich card", field=where)
    try:
        parse_rich_content(content)
    except DomainError as exc:
        raise InvalidCampaign(f"{where}.{exc.field or ''}: {exc.message}", field=where) from exc
    templates = {}
    for path, text in _strings(content, ()):
        name = ".".join(str(p) for p in path)
        templates[path] = parse_template(text, f"{where}.{name}")
    return templates


def plan_of(campaign: Campaign) -> Plan:
    """The campaign as saved (checked when it was created) ready to render."""
    variants = tuple(
        VariantPlan(
            Variant(v["name"], v["weight"], v["content"]),
            check_content(v["content"], f"variants[{n}].content"),
        )
        for n, v in enumerate(campaign.variants)
    )
    uses = frozenset(name for plan in variants for t in plan.templates.values() for name in t.names)
    return Plan(
        sid=campaign.sid,
        sender=campaign.sender,
        channel=campaign.channel,
        category=campaign.category,
        variants=variants,
        ab_test=rules.parse_ab_test(campaign.ab_test) if campaign.ab_test else None,
        local_time=(
            rules.parse_local_time(campaign.local_send_time) if campaign.local_send_time else None
        ),
        send_at=campaign.send_at,
        fallback_after=campaign.fallback_after_seconds,
        status_callback=campaign.status_callback,
        uses=uses,
        shorten_urls=campaign.shorten_urls,
    )


def facts_of(store: Store, contact: Recipient, uses: frozenset[str]) -> dict[str, Any]:
    """A contact's fields as templates see them; sealed ones opened only when named."""
    open_ = store.cipher.open
    fields: dict[str, Any] = {
        "phone": open_(contact.phone, "contact.phone"),
        "tags": contact.tags or [],
        "country": contact.country,
        "state": contact.state,
        "time_zone": contact.time_zone,
        "orders_count": contact.orders_count,
        "total_spent": contact.total_spent,
    }
    for name, purpose in _SEALED.items():
        value = getattr(contact, name)
        if name in uses and value is not None:
            fields[name] = open_(value, purpose)
    if "attributes" in uses and contact.attributes is not None:
        fields["attributes"] = json.loads(open_(contact.attributes, "contact.attributes"))
    return fields


@dataclass(frozen=True)
class Builder:
    """What building a recipient's message takes besides the campaign: the store (to open
    the sealed fields a template names), the sender's route, prices, and where preview
    links point."""

    store: Store
    route: SenderRoute
    price_book: PriceBook
    public_url: str
    default_region: str

    def message(
        self, plan: Plan, variant: VariantPlan, contact: Recipient, now: datetime
    ) -> Outgoing:
        return message_for(
            plan,
            variant,
            facts_of(self.store, contact, plan.uses),
            route=self.route,
            price_book=self.price_book,
            public_url=self.public_url,
            default_region=self.default_region,
            now=now,
        )


def message_for(
    plan: Plan,
    variant: VariantPlan,
    facts: Mapping[str, Any],
    *,
    route: SenderRoute,
    price_book: PriceBook,
    public_url: str,
    default_region: str,
    now: datetime,
) -> Outgoing:
    """One recipient's message, rendered, priced and routed, due when the campaign says.
    Its links are shortened with placeholders (domain/links.py) as long as the codes the
    recipient gets when it is written, so the price is already the real one."""
    rendered, urls, text = _rendered(plan, variant, variables_of(facts), public_url)
    phone = parse_phone(facts["phone"], default_region)
    key = (variant.variant.name, text, phone.region)
    due = _due(plan, facts, now)
    known = plan.built.get(key)
    if known is not None:
        return replace(known, to=phone.e164, links=urls, **_timing(known, now, due))
    request = RichRequest(
        to=phone.e164,
        sender=plan.sender,
        content=rendered,
        channel=plan.channel,
        fallback_after_seconds=plan.fallback_after,
        status_callback=plan.status_callback,
        category=plan.category,
    )
    outgoing, content = rich_outgoing(request, price_book, public_url, default_region, now)
    outgoing = replace(route_rich(outgoing, content, request, route, price_book), links=urls)
    if outgoing.preview_token is None:  # a preview page is one message's own
        if len(plan.built) >= MAX_BUILT:
            plan.built.clear()
        plan.built[key] = outgoing
    return outgoing if due is None else replace(outgoing, **_timing(outgoing, now, due))


def _timing(built: Outgoing, now: datetime, due: datetime | None) -> dict[str, Any]:
    """When a message built for another recipient (or just now) is due: now, or at `due`."""
    if due is None:
        return {"due_at": now, "expires_at": now + (built.expires_at - built.due_at)}
    return {
        "status": Status.SCHEDULED,
        "send_at": due,
        "due_at": due,
        "expires_at": due + VALIDITY,
        "detail": f"{built.detail}; send at {due.isoformat()}",
    }


Rendered = tuple[dict[str, Any], tuple[str, ...], str]  # content, its links, as JSON


def _rendered(
    plan: Plan, variant: VariantPlan, variables: Mapping[str, Any], public_url: str
) -> Rendered:
    """The variant rendered for these values and shortened; shared by every recipient with
    the same values, so never changed by the caller."""
    key = (variant.variant.name, variant.values_key(variables))
    found = plan.rendered.get(key)
    if found is None:
        content, urls = shortened(plan, variant.render(variables), public_url)
        if len(plan.rendered) >= MAX_BUILT:
            plan.rendered.clear()
        found = plan.rendered[key] = (content, urls, json.dumps(content, sort_keys=True))
    return found


def shortened(
    plan: Plan, content: dict[str, Any], public_url: str
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The rendered content with its texts' links shortened (if the campaign shortens),
    and the original URLs in placeholder order."""
    if not plan.shorten_urls:
        return content, ()
    shorten = Shortener(public_url, [])
    for path, text in _strings(content, ()):
        _set(content, path, shorten(text))
    return content, tuple(shorten.urls)


def most_it_may_cost(outgoing: Outgoing) -> Decimal:
    """RCS or the SMS it may fall back to, whichever is dearer: what a budget must allow."""
    return max(outgoing.price, outgoing.fallback_price or Decimal(0))


def launched_audience(
    session: AsyncSession, store: Store, campaign: Campaign, now: datetime
) -> ColumnElement[bool]:
    """The campaign's audience as fixed at launch (see audience_clause)."""
    return audience_clause(session, store, campaign.audience or {}, campaign.audience_until, now)


def audience_clause(
    session: AsyncSession,
    store: Store,
    fixed: Mapping[str, Any],
    until: int | None,
    now: datetime,
) -> ColumnElement[bool]:
    """An audience as a campaign fixes it: a segment's rule ({"match", "conditions"}) or
    its contacts ({"contact_ids"}), and no contact newer than `until`."""
    if "contact_ids" in fixed:
        who = audiences.listed(fixed["contact_ids"])
    else:
        rule = parse_audience(fixed.get("match", "all"), fixed.get("conditions", []))
        who = audience_filter(session, store, rule, now)
    return who if until is None else and_(who, Contact.id <= until)


def _due(plan: Plan, facts: Mapping[str, Any], now: datetime) -> datetime | None:
    if plan.local_time is not None:
        zones = recipient_zones(parse_phone(facts["phone"], strict=False), facts["time_zone"])
        return rules.next_local(plan.local_time, zones, now)
    if plan.send_at is not None and plan.send_at > now:
        return plan.send_at
    return None


def _strings(value: Any, path: Tuple) -> list[tuple[Tuple, str]]:
    """(path, text) of every templated string in the content."""
    found: list[tuple[Tuple, str]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in _TEMPLATED and isinstance(item, str):
                found.append(((*path, key), item))
            elif key in ("rich_card", "carousel"):
                found.extend(_strings(item, (*path, key)))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found.extend(_strings(item, (*path, n)))
    return found


def _set(content: Any, path: Tuple, text: str) -> None:
    for step in path[:-1]:
        content = content[step]
    content[path[-1]] = text
