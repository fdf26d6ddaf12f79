"""A new campaign's settings from the API's body, checked field by field: what
`POST /v1/campaigns` (and the preview of an unsaved campaign) accepts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from smsvia.domain import campaigns as rules
from smsvia.domain.campaigns import InvalidCampaign, Variant
from smsvia.domain.errors import DomainError
from smsvia.services.campaign_plan import check_content
from smsvia.services.messages import CHANNELS, callback_url
from smsvia.services.routing import check_fallback_after


def check_settings(body: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of a new campaign from the API's body; InvalidCampaign names the field."""
    name = body.get("name")
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 255:
        raise InvalidCampaign("name must be 1 to 255 characters", field="name")
    sender = body.get("from")
    if not isinstance(sender, str) or not sender:
        raise InvalidCampaign("from is required: one of the account's senders", field="from")
    channel = body.get("channel", "auto")
    if channel not in CHANNELS:
        raise InvalidCampaign(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    category = body.get("category", "marketing")
    if category not in ("marketing", "transactional"):
        raise InvalidCampaign("category must be marketing or transactional", field="category")
    if ("content" in body) == ("variants" in body):
        raise InvalidCampaign("give content, or variants for an A/B test", field="content")
    if "variants" in body:
        variants = rules.parse_variants(body["variants"])
    else:
        variants = (Variant("A", 1, body["content"]),)
    for n, variant in enumerate(variants):
        where = f"variants[{n}].content" if "variants" in body else "content"
        check_content(variant.content, where)
    ab_test = body.get("ab_test")
    if ab_test is not None:
        if len(variants) < 2:
            raise InvalidCampaign("ab_test needs at least two variants", field="ab_test")
        rules.parse_ab_test(ab_test)
    if body.get("send_at") is not None and body.get("local_send_time") is not None:
        raise InvalidCampaign("give send_at or local_send_time, not both", field="send_at")
    if body.get("local_send_time") is not None:
        rules.parse_local_time(body["local_send_time"])
    shorten = body.get("shorten_urls", True)
    if not isinstance(shorten, bool):
        raise InvalidCampaign("shorten_urls must be true or false", field="shorten_urls")
    link_preview = rules.parse_link_preview(body.get("link_preview"))
    fallback = body.get("fallback_after_seconds")
    if fallback is not None and (isinstance(fallback, bool) or not isinstance(fallback, int)):
        raise InvalidCampaign(
            "fallback_after_seconds must be a number", field="fallback_after_seconds"
        )
    try:
        check_fallback_after(fallback)
        status_callback = callback_url(body.get("status_callback"))
    except DomainError as exc:
        raise InvalidCampaign(exc.message, field=exc.field) from exc
    return {
        "name": name.strip(),
        "sender": sender,
        "channel": channel,
        "category": category,
        "variants": [
            {"name": v.name, "weight": v.weight, "content": json.loads(json.dumps(v.content))}
            for v in variants
        ],
        "ab_test": dict(ab_test) if ab_test is not None else None,
        "local_send_time": body.get("local_send_time"),
        "budget": rules.parse_budget(body.get("budget")),
        "shorten_urls": shorten,
        "link_preview": link_preview,
        "fallback_after_seconds": fallback,
        "status_callback": status_callback,
    }
