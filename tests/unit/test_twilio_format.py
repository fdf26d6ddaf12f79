from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from email.utils import format_datetime
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsvia.domain.errors import InvalidParameter
from smsvia.domain.twilio_format import form_encoded, parse_datetime, price, rfc2822


def test_dates_are_rfc2822_in_utc():
    moment = datetime(2015, 7, 30, 22, 12, 31, tzinfo=timezone(timedelta(hours=2)))
    assert rfc2822(moment) == "Thu, 30 Jul 2015 20:12:31 +0000"
    assert rfc2822(None) is None


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7, minutes=-30))])))
def test_dates_are_written_as_the_standard_library_writes_them(moment):
    assert rfc2822(moment) == format_datetime(moment.astimezone(UTC))


def test_prices_are_negative_with_five_places():
    assert price(Decimal("0.015")) == "-0.01500"
    assert price(Decimal("0.0450")) == "-0.04500"
    assert price(None) is None


@pytest.mark.parametrize(
    "text", ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05+00:00", "Fri, 02 Jan 2026 03:04:05 +0000"]
)
def test_iso_and_rfc2822_dates_parse(text):
    assert parse_datetime(text, "SendAt", 35115) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_bad_date_names_the_field_and_code():
    with pytest.raises(InvalidParameter) as error:
        parse_datetime("tomorrow", "SendAt", 35115)
    assert (error.value.code, error.value.field) == (35115, "SendAt")


@given(st.dictionaries(st.text(), st.text()))
def test_form_bodies_are_what_urlencode_makes(params):
    assert form_encoded(params) == urlencode(params).encode()


def test_a_status_callback_body():
    params = {"MessageSid": "SM0a", "From": "+15005550006", "Body": "50% off & more"}
    assert form_encoded(params) == b"MessageSid=SM0a&From=%2B15005550006&Body=50%25+off+%26+more"
