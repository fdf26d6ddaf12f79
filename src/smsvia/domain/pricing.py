"""The price book: what one SMS segment, MMS or RCS message costs in each country.

Money is `Decimal` from the file's strings to the API's output, never float.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from smsvia.domain.errors import PriceBookError, UnpricedDestination


class Billed(StrEnum):
    """What a price is per."""

    SMS_SEGMENT = "sms_segment"
    MMS_MESSAGE = "mms_message"
    RCS_BASIC = "rcs_basic"  # text only, up to 160 characters
    RCS_SINGLE = "rcs_single"  # anything richer or longer


@dataclass(frozen=True, slots=True)
class CountryPrices:
    region: str  # ISO 3166-1 alpha-2
    name: str
    currency: str
    sms_segment: Decimal
    mms_message: Decimal
    rcs_basic: Decimal
    rcs_single: Decimal
    source: str

    def unit_price(self, billed: Billed) -> Decimal:
        return getattr(self, billed.value)


@dataclass(frozen=True, slots=True)
class Quote:
    """The price of one message before it is sent."""

    region: str
    billed: Billed
    units: int  # segments for SMS, 1 otherwise
    unit_price: Decimal
    currency: str

    @property
    def price(self) -> Decimal:
        return self.unit_price * self.units


class PriceBook:
    """Prices by destination country, parsed from the TOML price book."""

    def __init__(self, countries: Mapping[str, CountryPrices]) -> None:
        self._countries = dict(countries)

    @classmethod
    def parse(cls, text: str, origin: str = "price book") -> PriceBook:
        """Build a book from TOML text; `origin` names it in error messages."""
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PriceBookError(f"{origin} is not valid TOML: {exc}") from exc
        return cls(_countries_from(document, origin))

    def __contains__(self, region: str) -> bool:
        return region.upper() in self._countries

    def __len__(self) -> int:
        return len(self._countries)

    def regions(self) -> list[str]:
        return sorted(self._countries)

    def country(self, region: str) -> CountryPrices:
        prices = self._countries.get(region.upper())
        if prices is None:
            raise UnpricedDestination(
                f"The price book has no prices for country '{region}', so messages to it "
                "cannot be priced or sent; add it to the price book",
                field="To",
            )
        return prices

    def quote(self, region: str, billed: Billed, units: int = 1) -> Quote:
        prices = self.country(region)
        return Quote(prices.region, billed, units, prices.unit_price(billed), prices.currency)

    def sms(self, region: str, segments: int) -> Quote:
        return self.quote(region, Billed.SMS_SEGMENT, segments)

    def mms(self, region: str) -> Quote:
        return self.quote(region, Billed.MMS_MESSAGE)


_BOOK_KEYS = {"currency", "mms_multiplier", "rcs_basic_multiplier", "rcs_single_multiplier"}
_COUNTRY_KEYS = {"name", "currency", "sms", "mms", "rcs_basic", "rcs_single", "source", "same_as"}


def _countries_from(document: dict[str, Any], origin: str) -> dict[str, CountryPrices]:
    book = document.get("book", {})
    _reject_unknown(book, _BOOK_KEYS, f"{origin} [book]")
    currency = str(book.get("currency", "USD"))
    multipliers = {
        key: _decimal(book.get(key, default), f"{origin} [book] {key}")
        for key, default in (
            ("mms_multiplier", "4"),
            ("rcs_basic_multiplier", "1"),
            ("rcs_single_multiplier", "2"),
        )
    }
    entries = document.get("countries")
    if not isinstance(entries, dict) or not entries:
        raise PriceBookError(f"{origin} has no [countries.XX] tables")
    countries: dict[str, CountryPrices] = {}
    aliases: dict[str, tuple[str, str]] = {}
    for region, entry in entries.items():
        where = f"{origin} [countries.{region}]"
        if len(region) != 2 or not region.isalpha() or not region.isupper():
            raise PriceBookError(f"{where}: a country is an upper-case ISO 3166 code like 'US'")
        if not isinstance(entry, dict):
            raise PriceBookError(f"{where} must be a table")
        _reject_unknown(entry, _COUNTRY_KEYS, where)
        if "same_as" in entry:
            aliases[region] = (str(entry["same_as"]), str(entry.get("name", region)))
            continue
        if "sms" not in entry:
            raise PriceBookError(f"{where} has no 'sms' price per segment")
        sms = _decimal(entry["sms"], f"{where} sms")
        countries[region] = CountryPrices(
            region=region,
            name=str(entry.get("name", region)),
            currency=str(entry.get("currency", currency)),
            sms_segment=sms,
            mms_message=_price_or(entry, "mms", sms * multipliers["mms_multiplier"], where),
            rcs_basic=_price_or(
                entry, "rcs_basic", sms * multipliers["rcs_basic_multiplier"], where
            ),
            rcs_single=_price_or(
                entry, "rcs_single", sms * multipliers["rcs_single_multiplier"], where
            ),
            source=str(entry.get("source", "")),
        )
    for region, (target, name) in aliases.items():
        prices = countries.get(target)
        if prices is None:
            raise PriceBookError(
                f"{origin} [countries.{region}] same_as '{target}', which has no prices of its own"
            )
        countries[region] = CountryPrices(
            region,
            name,
            prices.currency,
            prices.sms_segment,
            prices.mms_message,
            prices.rcs_basic,
            prices.rcs_single,
            f"same as {target}",
        )
    return countries


def _price_or(entry: dict[str, Any], key: str, default: Decimal, where: str) -> Decimal:
    return _decimal(entry[key], f"{where} {key}") if key in entry else default


def _decimal(value: object, where: str) -> Decimal:
    # Floats are refused: 0.1 in TOML is already not 0.1.
    if not isinstance(value, str | int):
        raise PriceBookError(f'{where}: write prices as strings, e.g. "0.0150"')
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise PriceBookError(f"{where}: '{value}' is not a decimal amount") from exc
    if not amount.is_finite() or amount < 0:
        raise PriceBookError(f"{where}: '{value}' is not a price")
    return amount


def _reject_unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise PriceBookError(f"{where}: unknown keys {', '.join(unknown)}")
