import pytest

from smsvia.domain.errors import InvalidPhoneNumber
from smsvia.domain.phone import NumberType, parse_phone


def test_national_format_uses_the_default_region():
    number = parse_phone("(415) 555-0100")
    assert (number.e164, number.country_code, number.region) == ("+14155550100", 1, "US")
    assert number.time_zones == ("America/Los_Angeles",)


def test_default_region_is_configurable():
    number = parse_phone("030 12345678", default_region="de")
    assert (number.e164, number.region, number.number_type) == (
        "+493012345678",
        "DE",
        NumberType.FIXED_LINE,
    )


def test_international_format_ignores_the_default_region():
    number = parse_phone("+39 333 123 4567", default_region="US")
    assert (number.e164, number.region, number.number_type) == (
        "+393331234567",
        "IT",
        NumberType.MOBILE,
    )
    assert "Europe/Rome" in number.time_zones


def test_mobile_number_type():
    assert parse_phone("+49 151 12345678").number_type == NumberType.MOBILE


@pytest.mark.parametrize("raw", ["", "   ", "abc", "12", "+999 123456", "+15551234567"])
def test_unusable_numbers_raise_21211(raw):
    with pytest.raises(InvalidPhoneNumber) as error:
        parse_phone(raw)
    assert error.value.code == 21211
    assert error.value.field == "To"


def test_error_says_what_is_wrong():
    with pytest.raises(InvalidPhoneNumber, match="unknown country calling code"):
        parse_phone("+999 123456")
