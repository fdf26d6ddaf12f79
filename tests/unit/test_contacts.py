"""Contacts as given: checked, normalized, and refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smsvia.domain.contacts import InvalidContact, parse_contact


def test_a_full_row_is_normalized():
    contact = parse_contact(
        {
            "phone": "(415) 555-0100",
            "email": "Ada@Example.COM",
            "first_name": " Ada ",
            "last_name": "Lovelace",
            "tags": "VIP, boots;  boots",
            "locale": "en_US",
            "consent": "yes",
            "consent_date": "2026-03-01",
            "shoe_size": "38",
            "empty": "",
        }
    )
    assert contact.phone == "+14155550100"
    assert contact.email == "ada@example.com"
    assert contact.first_name == "Ada"
    assert contact.tags == ("vip", "boots")
    assert contact.locale == "en-US"
    assert contact.attributes == {"shoe_size": "38"}
    assert contact.consented_at == datetime(2026, 3, 1, tzinfo=UTC)


def test_time_zone_comes_from_the_number_when_it_has_one():
    assert parse_contact({"phone": "+14155550100"}).time_zone == "America/Los_Angeles"
    assert parse_contact({"phone": "+33612345678"}).time_zone == "Europe/Paris"
    # A Channel Islands mobile could be in four zones: none is guessed.
    assert parse_contact({"phone": "+447911123456"}).time_zone is None
    given = {"phone": "+447911123456", "time_zone": "Europe/Jersey"}
    assert parse_contact(given).time_zone == "Europe/Jersey"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"phone": "+14155550100", "email": "not-an-email"}, "email"),
        ({"phone": "+14155550100", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"phone": "+14155550100", "locale": "english"}, "locale"),
        ({"phone": "+14155550100", "consent": "yes"}, "consent_date"),
        ({"phone": "+14155550100", "consent": "yes", "consent_date": "31/12/2025"}, "consent_date"),
        ({"phone": "+14155550100", "consent": "maybe"}, "consent"),
        ({"phone": "+14155550100", "first_name": "x" * 101}, "first_name"),
    ],
)
def test_bad_fields_are_named(values, field):
    with pytest.raises(InvalidContact) as refused:
        parse_contact(values)
    assert refused.value.field == field
