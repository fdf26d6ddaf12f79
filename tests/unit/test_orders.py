"""Orders as the API and Shopify give them: what is taken, what is refused, and Shopify's
signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from smsvia.domain.orders import InvalidOrder, parse_order, shopify_order
from smsvia.domain.signature import is_valid_shopify_signature


def test_an_api_order():
    order = parse_order(
        {
            "order_id": 1042,
            "email": "a@b.example",
            "total": "59.9",
            "created_at": "2026-11-30T10:00:00Z",
        }
    )
    assert order.order_id == "1042" and order.total == Decimal("59.9")
    assert order.currency == "USD" and order.created_at == datetime(2026, 11, 30, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], None),
        ({"phone": "+1", "total": "1"}, "order_id"),
        ({"order_id": "", "phone": "+1", "total": "1"}, "order_id"),
        ({"order_id": "x" * 65, "phone": "+1", "total": "1"}, "order_id"),
        ({"order_id": "1", "total": "1"}, "phone"),
        ({"order_id": "1", "phone": 5, "total": "1"}, "phone"),
        ({"order_id": "1", "phone": "+1"}, "total"),
        ({"order_id": "1", "phone": "+1", "total": "NaN"}, "total"),
        ({"order_id": "1", "phone": "+1", "total": "1e30"}, "total"),
        ({"order_id": "1", "phone": "+1", "total": True}, "total"),
        ({"order_id": "1", "phone": "+1", "total": "1", "currency": "EURO"}, "currency"),
        ({"order_id": "1", "phone": "+1", "total": "1", "created_at": 5}, "created_at"),
        ({"order_id": "1", "phone": "+1", "total": "1", "created_at": "later"}, "created_at"),
    ],
)
def test_bad_orders_are_refused_naming_the_field(body, field):
    with pytest.raises(InvalidOrder) as refused:
        parse_order(body)
    assert refused.value.field == field


def test_a_shopify_order_finds_the_phone_wherever_it_is():
    order = shopify_order(
        {
            "id": 450789469,
            "total_price": "598.94",
            "currency": "EUR",
            "created_at": "2026-11-30T10:00:00-05:00",
            "phone": None,
            "customer": {"phone": None, "email": "bob@example.com"},
            "shipping_address": {"phone": "+1 (415) 555-0100"},
        }
    )
    assert (order.order_id, order.total, order.currency) == ("450789469", Decimal("598.94"), "EUR")
    assert order.phone == "+1 (415) 555-0100" and order.email == "bob@example.com"
    assert order.created_at == datetime(2026, 11, 30, 15, tzinfo=UTC)
    with pytest.raises(InvalidOrder):
        shopify_order({"total_price": "1"})
    with pytest.raises(InvalidOrder):
        shopify_order({"id": 1, "total_price": "lots"})


def test_shopify_signature_is_base64_hmac_sha256_of_the_raw_body():
    body = b'{"id": 1}'
    good = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert is_valid_shopify_signature("s3cret", body, good)
    assert not is_valid_shopify_signature("s3cret", body + b" ", good)
    assert not is_valid_shopify_signature("other", body, good)
