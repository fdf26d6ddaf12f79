from decimal import Decimal

import pytest

from smsvia.domain.errors import PriceBookError, UnpricedDestination
from smsvia.domain.pricing import Billed, PriceBook
from smsvia.services.quote import load_price_book

SMALL_BOOK = """
[book]
currency = "EUR"
mms_multiplier = "3"

[countries.FR]
name = "France"
sms = "0.0700"
rcs_single = "0.0500"

[countries.MC]
name = "Monaco"
same_as = "FR"
"""


def test_built_in_book_prices_a_us_segment_at_0_015():
    book = load_price_book()
    assert book.country("US").sms_segment == Decimal("0.0150")
    assert book.country("US").currency == "USD"


def test_built_in_book_mms_is_four_sms_where_silent():
    assert load_price_book().country("US").mms_message == Decimal("0.0600")


def test_built_in_book_has_at_least_15_countries_dearer_than_the_us():
    book = load_price_book()
    us = book.country("US").sms_segment
    dearer = [r for r in book.regions() if book.country(r).sms_segment > us]
    assert len(dearer) >= 15


def test_built_in_book_names_a_source_for_every_country():
    book = load_price_book()
    assert all(book.country(region).source for region in book.regions())


def test_price_is_segments_times_the_segment_price_in_decimal():
    quote = load_price_book().sms("US", 3)
    assert quote.price == Decimal("0.0450")
    assert isinstance(quote.price, Decimal)


def test_multipliers_and_explicit_prices_from_the_file():
    book = PriceBook.parse(SMALL_BOOK)
    france = book.country("FR")
    assert france.currency == "EUR"
    assert france.mms_message == Decimal("0.2100")
    assert france.rcs_basic == Decimal("0.0700")
    assert france.rcs_single == Decimal("0.0500")
    assert book.quote("fr", Billed.RCS_SINGLE).price == Decimal("0.0500")


def test_same_as_copies_another_country():
    book = PriceBook.parse(SMALL_BOOK)
    assert book.country("MC").sms_segment == Decimal("0.0700")
    assert book.country("MC").name == "Monaco"


def test_unknown_country_raises_21408():
    with pytest.raises(UnpricedDestination) as error:
        PriceBook.parse(SMALL_BOOK).sms("US", 1)
    assert error.value.code == 21408
    assert "'US'" in error.value.message


@pytest.mark.parametrize(
    ("book", "message"),
    [
        ("not toml [", "not valid TOML"),
        ("[book]\n", "no \\[countries.XX\\]"),
        ('[countries.FR]\nname = "France"\n', "no 'sms' price"),
        ("[countries.FR]\nsms = 0.07\n", "write prices as strings"),
        ('[countries.FR]\nsms = "cheap"\n', "not a decimal amount"),
        ('[countries.FR]\nsms = "-1"\n', "not a price"),
        ('[countries.FR]\nsms = "1"\nsmss = "2"\n', "unknown keys smss"),
        ('[countries.france]\nsms = "1"\n', "upper-case ISO 3166"),
        ('[countries.MC]\nsame_as = "FR"\n', "same_as 'FR'"),
    ],
)
def test_malformed_books_are_refused_with_a_clear_message(book, message):
    with pytest.raises(PriceBookError, match=message):
        PriceBook.parse(book, "test.toml")


def test_operator_book_replaces_the_built_in_one(tmp_path):
    path = tmp_path / "prices.toml"
    path.write_text(SMALL_BOOK)
    assert load_price_book(path).regions() == ["FR", "MC"]


def test_missing_operator_book_is_a_clear_error(tmp_path):
    with pytest.raises(PriceBookError, match="cannot read price book"):
        load_price_book(tmp_path / "absent.toml")
