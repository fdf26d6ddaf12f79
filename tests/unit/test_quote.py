from decimal import Decimal

from smsvia.services.quote import load_price_book, quote_message

BOOK = load_price_book()


def test_quote_prices_segments_for_the_destination_country():
    quote = quote_message("a" * 161, price_book=BOOK, to="+44 7400 123456")
    assert quote.destination.region == "GB"
    assert quote.quote.units == 2
    assert quote.quote.price == BOOK.country("GB").sms_segment * 2


def test_quote_without_destination_uses_the_default_region():
    quote = quote_message("hi", price_book=BOOK, default_region="DE")
    assert quote.quote.region == "DE"


def test_mms_is_one_message_whatever_the_length():
    quote = quote_message("a" * 1000, price_book=BOOK, mms=True)
    assert quote.as_dict()["segments"] == 1
    assert quote.quote.price == Decimal("0.0600")
    assert "as SMS it would be 7 segments" in quote.explain()


def test_as_dict_has_the_contract_fields():
    data = quote_message("😜 hi", price_book=BOOK).as_dict()
    assert data["encoding"] == "UCS-2"
    assert data["segments"] == 1
    assert data["parts"] == [5]
    assert data["price"] == "0.0150"
    assert data["currency"] == "USD"
    assert data["ucs2_characters"][0]["char"] == "😜"
