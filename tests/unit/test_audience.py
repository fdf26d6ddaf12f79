"""Segment rules: what is refused at save time, and what each op means on one contact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from smsvia.domain.audience import ContactFacts, InvalidSegment, parse_audience

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def rule(*conditions, match="all"):
    return parse_audience(
        match, [dict(zip(("field", "op", "value"), c, strict=True)) for c in conditions]
    )


def facts(**given):
    return ContactFacts(created_at=NOW - timedelta(days=400), **given)


@pytest.mark.parametrize(
    ("condition", "named", "says"),
    [
        ({"field": "shoe", "op": "eq", "value": "x"}, "conditions[0].field", "unknown field"),
        ({"field": "tags", "op": "like", "value": "x"}, "conditions[0].op", "unknown op"),
        ({"field": "first_name", "op": "contains", "value": "A"}, "conditions[0].op", "sealed"),
        ({"field": "attributes.size", "op": "gt", "value": "3"}, "conditions[0].op", "sealed"),
        ({"field": "orders_count", "op": "gt", "value": "3"}, "conditions[0].value", "whole"),
        ({"field": "orders_count", "op": "gt", "value": True}, "conditions[0].value", "whole"),
        ({"field": "total_spent", "op": "gte", "value": "lots"}, "conditions[0].value", "amount"),
        (
            {"field": "last_order_at", "op": "lt", "value": "yesterday"},
            "conditions[0].value",
            "ISO",
        ),
        (
            {"field": "last_order_at", "op": "within_days", "value": -1},
            "conditions[0].value",
            "days",
        ),
        ({"field": "tags", "op": "in", "value": []}, "conditions[0].value", "list"),
        (
            {"field": "email", "op": "exists", "value": "yes"},
            "conditions[0].value",
            "true or false",
        ),
        (
            {"field": "attributes.", "op": "eq", "value": "x"},
            "conditions[0].field",
            "unknown field",
        ),
        ("tags contains vip", "conditions[0]", "object"),
    ],
)
def test_a_bad_condition_is_refused_naming_where(condition, named, says):
    with pytest.raises(InvalidSegment) as refused:
        parse_audience("all", [condition])
    assert refused.value.field == named and says in refused.value.message
    assert refused.value.code == 21100


def test_match_must_be_all_or_any():
    with pytest.raises(InvalidSegment) as refused:
        parse_audience("most", [])
    assert refused.value.field == "match"


def test_values_are_kept_as_they_are_compared():
    audience = rule(("tags", "contains", " VIP "), ("country", "in", ["us", "ca"]))
    assert audience.as_json() == [
        {"field": "tags", "op": "contains", "value": "vip"},
        {"field": "country", "op": "in", "value": ["US", "CA"]},
    ]
    assert parse_audience("all", audience.as_json()) == audience


def test_tags_contain_not_contain_and_exist():
    vip = facts(tags=("vip", "boots"))
    assert rule(("tags", "contains", "VIP")).matches(vip, NOW)
    assert not rule(("tags", "not_contains", "vip")).matches(vip, NOW)
    assert rule(("tags", "in", ["sale", "boots"])).matches(vip, NOW)
    assert rule(("tags", "exists", False)).matches(facts(), NOW)


def test_sealed_fields_compare_case_blind_and_ne_includes_the_unset():
    ada = facts(first_name="Ada", attributes={"size": "M"})
    assert rule(("first_name", "eq", "ada")).matches(ada, NOW)
    assert rule(("attributes.size", "in", ["m", "l"])).matches(ada, NOW)
    assert rule(("attributes.color", "ne", "red")).matches(ada, NOW)
    assert not rule(("attributes.size", "ne", "m")).matches(ada, NOW)
    assert rule(("email", "exists", False)).matches(ada, NOW)


def test_moments_within_and_before_days():
    recent = facts(last_order_at=NOW - timedelta(days=10))
    assert rule(("last_order_at", "within_days", 30)).matches(recent, NOW)
    assert not rule(("last_order_at", "before_days", 30)).matches(recent, NOW)
    assert rule(("last_order_at", "gt", "2026-11-01")).matches(recent, NOW)
    never = facts()
    assert not rule(("last_order_at", "within_days", 30)).matches(never, NOW)
    assert not rule(("last_order_at", "before_days", 30)).matches(never, NOW)
    assert rule(("created_at", "before_days", 365)).matches(never, NOW)


def test_numbers_money_and_any():
    buyer = facts(orders_count=3, total_spent=Decimal("120.50"), state="FL")
    assert rule(("orders_count", "gte", 3), ("total_spent", "gt", "100")).matches(buyer, NOW)
    assert not rule(("orders_count", "gt", 3), ("state", "eq", "fl")).matches(buyer, NOW)
    assert rule(("orders_count", "gt", 3), ("state", "eq", "fl"), match="any").matches(buyer, NOW)
    assert rule(("state", "not_contains", "x")).matches(facts(), NOW)


def test_an_empty_rule_is_everyone_for_all_and_nobody_for_any():
    assert parse_audience("all", []).matches(facts(), NOW)
    assert not parse_audience("any", []).matches(facts(), NOW)
