import pytest

from smsvia.domain.errors import InvalidPhoneNumber
from smsvia.domain.phone import NumberType, WrittenNumber, from_smpp, parse_phone, read_handset


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


UK_NUMBER = "+447700900000"  # ours, which the handset texted


@pytest.mark.parametrize(
    ("address", "ton", "e164"),
    [
        ("447700900123", 1, "+447700900123"),  # international
        ("447700900123", 0, "+447700900123"),  # unknown, as most SMSCs write it
        ("+447700900123", 2, "+447700900123"),  # written with its +, whatever the TON says
        ("07700900123", 2, "+447700900123"),  # national, with the trunk prefix
        ("7700900123", 2, "+447700900123"),  # national, without it
        ("07700900123", 0, "+447700900123"),  # unknown, but the trunk prefix says national
        ("00447700900123", 0, "+447700900123"),  # the exit code
        ("Shop", 5, "Shop"),  # alphanumeric
        ("12", 2, "+12"),  # no national number: taken as it comes
    ],
)
def test_a_handsets_smpp_address_in_e164(address, ton, e164):
    assert from_smpp(address, ton, home=UK_NUMBER) == e164


def test_a_national_number_is_read_in_our_numbers_country():
    assert from_smpp("4155550123", 2, home="+15005550006") == "+14155550123"
    assert from_smpp("4155550123", 2) == "+4155550123"  # no country to read it in


@pytest.mark.parametrize(
    ("address", "ton", "national"),
    [
        ("7700900123", 2, True),
        ("07700900123", 0, True),  # the trunk prefix says so
        ("447700900123", 0, False),
        ("07700900123", 1, False),  # international says otherwise, whatever the digits
        ("00447700900123", 2, False),  # the exit code
        ("+447700900123", 2, False),
        ("Shop", 5, False),
    ],
)
def test_a_number_written_nationally_is_known_by_its_ton_or_trunk_prefix(address, ton, national):
    assert WrittenNumber(address, ton).national is national


def test_a_national_number_names_each_of_our_numbers_it_reads_as_in_its_own_country():
    written = WrittenNumber("5005550006", 2)
    assert written.names("+15005550006")
    assert written.names("+445005550006")  # the same digits in another country
    assert not written.names("+15005550007")
    assert WrittenNumber("07700900000", 0).names(UK_NUMBER)
    assert not WrittenNumber("15005550006", 1).names("+445005550006")  # international


def test_a_receipts_handset_is_read_in_our_numbers_country_or_not_at_all():
    handset = WrittenNumber("7700900123", 2)
    assert read_handset(handset, WrittenNumber("447700900000", 1)) == "+447700900123"
    assert read_handset(handset, WrittenNumber("7700900000", 2)) is None  # no country known
    assert read_handset(WrittenNumber("447700900123", 0), WrittenNumber("7700900000", 2)) == (
        "+447700900123"
    )
