"""Orders: recorded once each (by the shop's order id), attributed to at most one message,
and added to the customer's contact (orders_count, total_spent, last_order_at).

Attribution (domain/orders.py): the customer's last click on a short link within the
account's click window (7 days), else the last campaign text delivered to them within the
delivery window (24 hours). The customer is matched by the number's blind index: the order's
phone, or the contact's (given, or found by email). Nothing plaintext is kept beside the
order: its phone and email are sealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain import ids
from smsvia.domain.errors import AuthenticationFailed, DomainError, NotFound
from smsvia.domain.orders import InvalidOrder, NewOrder, Windows
from smsvia.domain.phone import parse_phone
from smsvia.domain.signature import is_valid_shopify_signature
from smsvia.services.accounts import Principal
from smsvia.services.campaign_stats import money
from smsvia.services.clock import Clock, utcnow
from smsvia.services.paging import window
from smsvia.store import accounts as account_queries
from smsvia.store import contacts as contact_queries
from smsvia.store import orders as queries
from smsvia.store.audiences import email_index
from smsvia.store.context import Store
from smsvia.store.marketing_models import Contact
from smsvia.store.models import Account, Message
from smsvia.store.tracking_models import Order

MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Recorded:
    order: dict[str, Any]
    created: bool  # False: the order was known already (a retry)


async def record_order(
    store: Store,
    principal: Principal,
    new: NewOrder,
    *,
    source: str = "api",
    default_region: str = "US",
    clock: Clock = utcnow,
) -> Recorded:
    """Record the order and attribute it; an order id seen before returns that order."""
    now = clock()
    async with store.db.transaction() as session:
        known = await queries.order_by_order_id(session, principal.account_id, new.order_id)
        if known is not None:
            return Recorded(await order_view(session, known), False)
        account = await session.get(Account, principal.account_id)
        order, number = await _new_row(session, store, principal, new, source, default_region, now)
        if number is not None:
            await _attribute(session, store, order, number, _windows(account))
        try:
            async with session.begin_nested():
                session.add(order)
                await session.flush()
        except IntegrityError:
            known = None  # the same order, recorded by a concurrent request
        else:
            await _add_to_contact(session, order)
            return Recorded(await order_view(session, order), True)
    async with store.db.sessions() as session:
        known = await queries.order_by_order_id(session, principal.account_id, new.order_id)
        if known is None:
            raise DomainError("the order could not be recorded; try again")
        return Recorded(await order_view(session, known), False)


@dataclass(frozen=True, slots=True)
class OrderPage:
    orders: list[dict[str, Any]]
    next_token: str | None


async def list_orders(
    store: Store, principal: Principal, *, page_size: int = 50, page_token: str | None = None
) -> OrderPage:
    asked = window(page_size, page_token, MAX_PAGE_SIZE)
    async with store.db.sessions() as session:
        found = await queries.page_of_orders(
            session, principal.account_id, before_id=asked.before_id, limit=asked.limit
        )
        shown, next_token = asked.page(found)
        views = [await order_view(session, order) for order in shown]
    return OrderPage(views, next_token)


async def shopify_webhook(store: Store, account_sid: str, body: bytes, signature: str) -> Principal:
    """The account a Shopify webhook is for, once its signature is checked against the
    account's Shopify secret; AuthenticationFailed (401) otherwise."""
    async with store.db.sessions() as session:
        account = await account_queries.account_by_sid(session, account_sid)
    if account is None or account.shopify_secret is None or not signature:
        raise AuthenticationFailed("the webhook's signature cannot be checked")
    secret = store.cipher.open(account.shopify_secret, "account.shopify_secret")
    if not is_valid_shopify_signature(secret, body, signature.strip()):
        raise AuthenticationFailed("X-Shopify-Hmac-Sha256 does not match the body")
    return Principal(account.id, account.sid, "", "shopify")


async def _new_row(
    session: AsyncSession,
    store: Store,
    principal: Principal,
    new: NewOrder,
    source: str,
    default_region: str,
    now: datetime,
) -> tuple[Order, str | None]:
    """The order's row, and the customer's number if known (given, or its contact's)."""
    blind, ring, seal = store.cipher.blind_index, store.cipher.lookup_indexes, store.cipher.seal
    contact: Contact | None = None
    phone = None
    if new.phone:
        try:
            phone = parse_phone(new.phone, default_region, strict=False).e164
        except DomainError as exc:
            if source == "api":
                raise InvalidOrder(f"phone: {exc.message}", field="phone") from exc
    phone_index = blind(phone, "phone") if phone else None
    if new.contact:
        contact = await contact_queries.contact_by_sid(session, principal.account_id, new.contact)
        if contact is None:
            raise NotFound(f"Contact {new.contact} not found")
    elif phone:
        found = await contact_queries.contacts_by_phone_index(
            session, principal.account_id, store.cipher.indexes([phone], "phone")
        )
        contact = found.get(phone_index)
    if contact is None and new.email:
        contact = await contact_queries.contact_by_email_index(
            session, principal.account_id, email_index(ring, new.email)
        )
    number = phone or (store.cipher.open(contact.phone, "contact.phone") if contact else None)
    order = Order(
        sid=ids.new_sid(ids.ORDER),
        account_id=principal.account_id,
        order_id=new.order_id,
        source=source,
        contact_id=contact.id if contact else None,
        phone=seal(phone, "order.phone") if phone else None,
        phone_index=phone_index or (contact.phone_index if contact else None),
        email=seal(new.email.strip(), "order.email") if new.email else None,
        email_index=email_index(blind, new.email) if new.email else None,
        total=new.total,
        currency=new.currency,
        created_at=new.created_at or now,
        date_created=now,
    )
    return order, number


def _windows(account: Account | None) -> Windows:
    days = account.attribution_click_days if account else 7
    hours = account.attribution_delivery_hours if account else 24
    return Windows(timedelta(days=days), timedelta(hours=hours))


async def _attribute(
    session: AsyncSession, store: Store, order: Order, number: str, windows: Windows
) -> None:
    """The message the order is credited to: last click, else last delivered text."""
    phones = store.cipher.lookup_indexes(number, "phone")
    at = order.created_at
    click = await queries.last_click(session, order.account_id, phones, windows.click_since(at), at)
    if click is not None:
        order.message_id, order.click_id = click.message_id, click.id
        order.campaign_sid, order.attributed_by = click.campaign_sid, "click"
        return
    delivered = await queries.last_delivered_text(
        session, order.account_id, phones, windows.delivery_since(at), at
    )
    if delivered is not None:
        order.message_id, order.campaign_sid = delivered
        order.attributed_by = "delivery"


async def _add_to_contact(session: AsyncSession, order: Order) -> None:
    if order.contact_id is None:
        return
    contact = await session.get(Contact, order.contact_id)
    if contact is None:
        return
    contact.orders_count = (contact.orders_count or 0) + 1
    contact.total_spent = (contact.total_spent or 0) + order.total
    if contact.last_order_at is None or contact.last_order_at < order.created_at:
        contact.last_order_at = order.created_at


async def order_view(session: AsyncSession, order: Order) -> dict[str, Any]:
    """The order resource: never the customer's number or email."""
    contact_sid = message_sid = None
    if order.contact_id is not None:
        contact = await session.get(Contact, order.contact_id)
        contact_sid = contact.sid if contact else None
    if order.message_id is not None:
        message = await session.get(Message, order.message_id)
        message_sid = message.sid if message else None
    return {
        "sid": order.sid,
        "order_id": order.order_id,
        "source": order.source,
        "contact": contact_sid,
        "total": money(order.total),
        "currency": order.currency,
        "created_at": order.created_at.isoformat(),
        "attributed_to": (
            {
                "message_sid": message_sid,
                "campaign_sid": order.campaign_sid,
                "by": order.attributed_by,
            }
            if order.attributed_by
            else None
        ),
        "date_created": order.date_created.isoformat(),
    }
