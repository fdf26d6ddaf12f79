"""Quiet hours and caps: the rules table, the windows and the next allowed moment."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsvia.domain.phone import parse_phone
from smsvia.domain.quiet_hours import (
    US_MAINLAND,
    QuietHoursError,
    RuleBook,
    Window,
    account_rule,
    next_allowed,
    parse_area_codes,
    parse_window,
    recipient_zones,
    strictest_cap,
)
from smsvia.services.compliance import load_rules

RULES = load_rules()
NEW_YORK = ZoneInfo("America/New_York")
OWN = account_rule(None, None)  # the default 21:00-08:00 quiet hours


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)


def test_every_state_in_the_shipped_table_names_its_source_and_is_stricter_than_federal():
    assert RULES.federal.days == (Window(time(8), time(21)),) * 7
    assert {"FL", "OK", "MD", "TX", "CT"} <= set(RULES.states)
    for code, rule in RULES.states.items():
        assert rule.source, code
        stricter = rule.cap_24h is not None or any(
            day is None or day.start > time(8) or day.end < time(21) for day in rule.days
        )
        assert stricter, code


@pytest.mark.parametrize(
    ("number", "state"),
    [
        ("+13055550100", "FL"),  # "Florida"
        ("+19185550100", "OK"),
        ("+12065550100", "WA"),
        ("+14155550100", "CA"),
        ("+17135550100", "TX"),  # only city prefixes in phonenumbers' data: Houston
        ("+15005550006", None),  # non-geographic
        ("+447911123456", None),
    ],
)
def test_the_state_comes_from_the_area_code(number, state):
    assert RULES.state_of(parse_phone(number, strict=False)) == state


def test_florida_gets_its_own_rule_and_cap_on_top_of_the_federal_and_the_accounts():
    applied = RULES.rules_for(parse_phone("+13055550100"), OWN)
    assert [rule.name for rule in applied] == [
        "account quiet hours",
        "United States (TCPA)",
        "Florida",
    ]
    cap = strictest_cap(applied)
    assert cap is not None and cap.cap_24h == 3 and "501.616" in cap.source
    uk = RULES.rules_for(parse_phone("+447911123456"), OWN)
    assert uk == [OWN] and strictest_cap(uk) is None


def test_a_message_at_a_florida_evening_waits_for_eight_the_next_morning():
    rules = RULES.rules_for(parse_phone("+13055550100"), OWN)
    evening = local(NEW_YORK, 2026, 11, 26, 20, 30)  # federal would allow it, Florida not
    assert next_allowed(evening, ["America/New_York"], rules) == local(NEW_YORK, 2026, 11, 27, 8, 0)
    noon = local(NEW_YORK, 2026, 11, 26, 12, 0)
    assert next_allowed(noon, ["America/New_York"], rules) == noon


def test_a_sunday_morning_in_texas_waits_for_noon_and_alabama_for_monday():
    texas = RULES.rules_for(parse_phone("+15125550100"), OWN)
    chicago = ZoneInfo("America/Chicago")
    sunday = local(chicago, 2026, 11, 29, 10, 0)
    assert next_allowed(sunday, ["America/Chicago"], texas) == local(chicago, 2026, 11, 29, 12)
    alabama = RULES.rules_for(parse_phone("+12055550100"), OWN)
    assert next_allowed(sunday, ["America/Chicago"], alabama) == local(chicago, 2026, 11, 30, 8)


def test_the_accounts_own_quiet_hours_wrap_midnight():
    own = account_rule("22:30-09:15", None)
    assert own.days[0] == Window(time(9, 15), time(22, 30))
    late = local(NEW_YORK, 2026, 11, 26, 23, 0)
    assert next_allowed(late, ["America/New_York"], [own]) == local(NEW_YORK, 2026, 11, 27, 9, 15)
    night_owl = account_rule("03:00-05:00", None)  # allowed 05:00-03:00, across midnight
    assert night_owl.allows(local(NEW_YORK, 2026, 11, 26, 1, 0))
    assert not night_owl.allows(local(NEW_YORK, 2026, 11, 26, 4, 0))


def test_a_number_that_may_be_anywhere_in_the_us_waits_for_an_hour_allowed_coast_to_coast():
    phone = parse_phone("+15005550006", strict=False)
    zones = recipient_zones(phone)
    assert zones == US_MAINLAND
    early = local(NEW_YORK, 2026, 11, 26, 9, 0)  # 06:00 in Los Angeles
    at = next_allowed(early, zones, RULES.rules_for(phone, OWN))
    assert at == local(NEW_YORK, 2026, 11, 26, 11, 0)  # 08:00 in Los Angeles


def test_a_contacts_own_time_zone_wins_over_the_numbers():
    phone = parse_phone("+13055550100")
    assert recipient_zones(phone, "Europe/Paris") == ("Europe/Paris",)
    assert recipient_zones(phone) == ("America/New_York",)


def test_daylight_saving_changes_do_not_move_the_window():
    rules = [OWN]
    # 2026-03-08 02:00 does not exist in New York; the next morning starts at 08:00 EDT.
    night = local(NEW_YORK, 2026, 3, 8, 1, 0)
    at = next_allowed(night, ["America/New_York"], rules)
    assert at is not None and at.astimezone(NEW_YORK).hour == 8
    assert at.astimezone(UTC).hour == 12  # EDT is UTC-4


@given(
    moment=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(["America/New_York", "America/Chicago", "Pacific/Honolulu"]),
    state=st.sampled_from(["+13055550100", "+15125550100", "+12055550100", "+12125550100"]),
)
def test_the_next_allowed_moment_is_allowed_and_nothing_earlier_is(moment, zone, state):
    rules = RULES.rules_for(parse_phone(state), OWN)
    at = next_allowed(moment, [zone], rules)
    assert at is not None and at >= moment
    tz = ZoneInfo(zone)
    assert all(rule.allows(at.astimezone(tz)) for rule in rules)
    # Minute by minute back to the start, nothing was allowed (sampled every 7 minutes).
    probe = moment
    while probe < at - timedelta(minutes=1):
        assert not all(rule.allows(probe.astimezone(tz)) for rule in rules)
        probe += timedelta(minutes=7)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "is not like"),
        ("8-21", "is not like"),
        ("25:00-08:00", "not a time of day"),
        ("08:00-08:00", "is empty"),
    ],
)
def test_bad_quiet_hours_are_refused_with_the_reason(text, why):
    with pytest.raises(QuietHoursError, match=why):
        parse_window(text, "quiet hours")


@pytest.mark.parametrize(
    ("toml", "why"),
    [
        ("[states.FL]\nallowed='08:00-20:00'\nsource='x'", "no \\[federal\\]"),
        ("[federal]\nallowed='08:00-21:00'", "needs `allowed` and `source`"),
        ("[federal]\nallowed='08:00-21:00'\nsource='x'\nhours=1", "unknown keys: hours"),
        (
            "[federal]\nallowed='08:00-21:00'\nsource='x'\ndays={sunday='none'}",
            "'sunday' is not one of",
        ),
        ("[federal]\nallowed='08:00-21:00'\nsource='x'\ncap_24h=0", "positive whole number"),
        ("[federal", "not valid TOML"),
    ],
)
def test_a_broken_rules_file_names_what_is_wrong(toml, why):
    with pytest.raises(QuietHoursError, match=why):
        RuleBook.parse(toml, {}, "rules.toml")


def test_a_broken_area_code_table_names_the_line():
    assert parse_area_codes("area_code,state\n# comment\n305,fl\n") == {"305": "FL"}
    with pytest.raises(QuietHoursError, match="line 2: '30,FL' is not like 305,FL"):
        parse_area_codes("area_code,state\n30,FL\n")
