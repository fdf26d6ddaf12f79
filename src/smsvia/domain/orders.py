"""Orders as the shop reports them (POST /v1/orders, or Shopify's orders webhook), checked,
and the attribution rule: the last click within the click window, else the last delivered
campaign text within the delivery window.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from smsvia.domain.errors import DomainError
from smsvia.domain.twilio_format import parse_datetime

MAX_TOTAL = Decimal("1000000000")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class InvalidOrder(DomainError):
    """An order the API cannot take; the message names the field."""

    code = 21100


@dataclass(frozen=True, slots=True)
class NewOrder:
    order_id: str
    total: Decimal
    currency: str
    created_at: datetime | None  # None: now
    phone: str | None = None
    email: str | None = None
    contact: str | None = None  # CO…


def parse_order(body: Any) -> NewOrder:
    """POST /v1/orders: {"order_id", "phone"|"email"|"contact", "total", "currency",
    "created_at"}."""
    if not isinstance(body, Mapping):
        raise InvalidOrder("the body must be a JSON object")
    order_id = body.get("order_id")
    if isinstance(order_id, int) and not isinstance(order_id, bool):
        order_id = str(order_id)
    if not isinstance(order_id, str) or not 0 < len(order_id.strip()) <= 64:
        raise InvalidOrder("order_id must be text of 1 to 64 characters", field="order_id")
    who = {name: body.get(name) for name in ("phone", "email", "contact")}
    for name, value in who.items():
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidOrder(f"{name} must be text", field=name)
    if not any(who.values()):
        raise InvalidOrder("give the customer's phone, email or contact", field="phone")
    created = body.get("created_at")
    if created is not None and not isinstance(created, str):
        raise InvalidOrder("created_at must be an RFC 3339 time", field="created_at")
    return NewOrder(
        order_id=order_id.strip(),
        total=parse_total(body.get("total"), "total"),
        currency=parse_currency(body.get("currency", "USD")),
        created_at=_moment(created) if created else None,
        phone=who["phone"],
        email=who["email"],
        contact=who["contact"],
    )


def shopify_order(body: Any) -> NewOrder:
    """A Shopify order (the orders/create webhook's JSON): its id, total, currency, time,
    and the customer's phone and email wherever the order carries them."""
    if not isinstance(body, Mapping) or body.get("id") in (None, ""):
        raise InvalidOrder("not a Shopify order: no id", field="id")
    customer = body.get("customer") if isinstance(body.get("customer"), Mapping) else {}
    phones = [
        body.get("phone"),
        customer.get("phone"),
        *(
            (body.get(address) or {}).get("phone")
            for address in ("billing_address", "shipping_address")
            if isinstance(body.get(address) or {}, Mapping)
        ),
    ]
    emails = [body.get("email"), body.get("contact_email"), customer.get("email")]
    created = body.get("created_at")
    return NewOrder(
        order_id=str(body["id"])[:64],
        total=parse_total(body.get("total_price", body.get("current_total_price")), "total_price"),
        currency=parse_currency(body.get("currency") or "USD"),
        created_at=_moment(created) if isinstance(created, str) and created else None,
        phone=next((p for p in phones if isinstance(p, str) and p.strip()), None),
        email=next((e for e in emails if isinstance(e, str) and e.strip()), None),
    )


def parse_total(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidOrder(f"{field} must be a decimal amount", field=field)
    try:
        total = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise InvalidOrder(f"{field} must be a decimal amount", field=field) from exc
    if not total.is_finite() or not 0 <= total < MAX_TOTAL:
        raise InvalidOrder(f"{field} must be between 0 and {MAX_TOTAL}", field=field)
    return total.quantize(Decimal("0.000001"))


def parse_currency(value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value.strip().upper()):
        raise InvalidOrder("currency must be a three-letter ISO 4217 code", field="currency")
    return value.strip().upper()


def _moment(text: str) -> datetime:
    try:
        return parse_datetime(text, "created_at", 21100)
    except DomainError as exc:
        raise InvalidOrder(exc.message, field="created_at") from exc


@dataclass(frozen=True, slots=True)
class Windows:
    """How far back an order looks: for a click, then for a delivered campaign text."""

    click: timedelta
    delivery: timedelta

    def click_since(self, order_time: datetime) -> datetime:
        return order_time - self.click

    def delivery_since(self, order_time: datetime) -> datetime:
        return order_time - self.delivery
