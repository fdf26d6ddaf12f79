"""Campaign rules with no I/O: variants by weight, A/B slices, local send times, budgets,
status moves, and personalization."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from smsvia.domain import campaigns as rules
from smsvia.domain.campaigns import InvalidCampaign, Variant
from smsvia.domain.errors import Conflict
from smsvia.domain.personalization import InvalidTemplate, parse_template, variables_of


def test_a_contacts_place_is_fixed_and_spread_evenly():
    places = [rules.bucket("CMabc", n) for n in range(20_000)]
    assert places == [rules.bucket("CMabc", n) for n in range(20_000)]
    in_sample = sum(rules.in_sample(p, 20) for p in places)
    assert 3_700 < in_sample < 4_300  # about 20 %


def test_variants_split_by_weight_inside_the_sample_too():
    variants = [Variant("A", 3, {}), Variant("B", 1, {})]
    places = [rules.bucket("CMxyz", n) for n in range(40_000)]
    everyone = Counter(rules.pick_variant(variants, p).name for p in places)
    sample = Counter(rules.pick_variant(variants, p).name for p in places if rules.in_sample(p, 10))
    assert 0.72 < everyone["A"] / 40_000 < 0.78
    assert 0.70 < sample["A"] / sum(sample.values()) < 0.80


def test_next_local_is_the_recipients_own_clock_across_dst():
    after = datetime(2026, 3, 7, 20, 0, tzinfo=UTC)  # the day before US clocks spring forward
    sunday = rules.next_local(time(10, 0), ["America/New_York"], after)
    assert sunday.astimezone(ZoneInfo("America/New_York")).replace(tzinfo=None) == datetime(
        2026, 3, 8, 10, 0
    )
    assert sunday == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)  # EDT: UTC-4
    later = rules.next_local(time(10, 0), ["America/New_York", "America/Los_Angeles"], after)
    assert later == datetime(2026, 3, 8, 17, 0, tzinfo=UTC)  # nobody before 10:00 their time


def test_today_when_the_hour_is_still_ahead():
    after = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # 07:00 in New York
    assert rules.next_local(time(10, 0), ["America/New_York"], after) == datetime(
        2026, 12, 2, 15, 0, tzinfo=UTC
    )


@pytest.mark.parametrize("budget", ["abc", "-5", "0", 12.5, "NaN", "Infinity"])
def test_a_budget_must_be_a_positive_decimal_string(budget):
    with pytest.raises(InvalidCampaign):
        rules.parse_budget(budget)


def test_the_budget_allows_exactly_up_to_its_amount():
    assert rules.within_budget(Decimal("1.00"), Decimal("0.75"), Decimal("0.25"))
    assert not rules.within_budget(Decimal("1.00"), Decimal("0.80"), Decimal("0.25"))
    assert rules.within_budget(None, Decimal("1e9"), Decimal(1))


def test_moves_that_make_no_sense_are_conflicts():
    rules.check_move("launch", "draft")
    for action, status in (("launch", "canceled"), ("resume", "sending"), ("pause", "draft")):
        with pytest.raises(Conflict) as refused:
            rules.check_move(action, status)
        assert status in refused.value.message


def test_variants_and_ab_tests_are_checked():
    with pytest.raises(InvalidCampaign, match="2 to 10"):
        rules.parse_variants([{"name": "A", "content": {"text": "x"}}])
    with pytest.raises(InvalidCampaign, match="differ"):
        rules.parse_variants(
            [{"name": "A", "content": {"text": "x"}}, {"name": "A", "content": {"text": "y"}}]
        )
    with pytest.raises(InvalidCampaign, match="sample_percent"):
        rules.parse_ab_test({"sample_percent": 100})
    assert rules.parse_ab_test({}).metric == "clicks"


def test_a_missing_value_renders_empty_or_its_default():
    template = parse_template('Hi {{ first_name | default: "there" }}{{ last_name }}!', "text")
    assert template.render(variables_of({})) == "Hi there!"
    assert template.render(variables_of({"first_name": "Ada"})) == "Hi Ada!"
    assert template.names == {"first_name", "last_name"}


def test_conditionals_attributes_and_money():
    template = parse_template(
        "{% if orders_count > 2 %}Thanks, regular! {% endif %}"
        "Size {{ attributes.shoe | default: '?' }}, spent {{ total_spent }}",
        "text",
    )
    text = template.render(
        variables_of({"orders_count": 3, "attributes": {"shoe": "42"}, "total_spent": "99.5"})
    )
    assert text == "Thanks, regular! Size 42, spent 99.50"


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("Hi {{ first_name", "does not parse"),
        ("{% if %}x{% endif %}", "does not parse"),
        ("{{ first_name | shout }}", "unknown filter"),
        ("{% for i in (1..100000) %}x{% endfor %}", "limit"),
        ("x" * 5001, "longer than"),
    ],
)
def test_templates_that_cannot_work_are_refused_up_front(source, says):
    with pytest.raises(InvalidTemplate) as refused:
        parse_template(source, "content.text")
    assert says in refused.value.message and refused.value.field == "content.text"


def test_a_template_cannot_reach_python_objects():
    template = parse_template("{{ first_name.__class__ }}{{ tags.__len__ }}", "text")
    assert template.render(variables_of({"first_name": "Ada", "tags": ["a"]})) == ""
