"""Tables of tracking and attribution: short links, what happened to them (clicks and link
previews), the Open Graph tags of their destinations, and orders.

No plaintext phone number or email is kept here: links point at the message (which seals
its recipient), clicks and orders carry the number's blind index to be matched with, and
an order's own number and email are sealed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from smsvia.store.base import Base
from smsvia.store.types import BigId


class ShortLink(Base):
    """One link of one message: `/l/{code}` leads to `url`. One code per recipient and
    link, so a click names the message, the contact and the campaign."""

    __tablename__ = "short_links"
    __table_args__ = (Index("ix_short_links_message_id", "message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    account_id: Mapped[int] = mapped_column(BigId)
    message_id: Mapped[int] = mapped_column(BigId)
    position: Mapped[int] = mapped_column(Integer)  # the link's place in the text, from 0
    url: Mapped[bytes] = mapped_column(LargeBinary)  # sealed: it may carry a customer's token
    url_index: Mapped[str] = mapped_column(String(40))  # the destination's Open Graph tags


class Click(Base):
    """A visit to a short link: a person's click, or a link-preview fetcher's look (counted
    apart, never as a click)."""

    __tablename__ = "clicks"
    __table_args__ = (
        Index("ix_clicks_message_id", "message_id"),
        Index("ix_clicks_account_id_phone_index_at", "account_id", "phone_index", "at"),
        Index("ix_clicks_campaign_sid_at", "campaign_sid", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigId)
    link_id: Mapped[int] = mapped_column(ForeignKey("short_links.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(BigId)
    campaign_sid: Mapped[str | None] = mapped_column(String(34))
    contact_id: Mapped[int | None] = mapped_column(BigId)
    phone_index: Mapped[str] = mapped_column(String(40))  # the recipient's, for attribution
    kind: Mapped[str] = mapped_column(String(8))  # click | preview
    user_agent: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime]


class LinkPreview(Base):
    """A destination page's Open Graph tags, fetched once (per account and URL) and kept."""

    __tablename__ = "link_previews"
    __table_args__ = (UniqueConstraint("account_id", "url_index"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigId)
    url_index: Mapped[str] = mapped_column(String(40))
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)  # why the fetch gave nothing
    fetched_at: Mapped[datetime]


class Order(Base):
    """A shop's order, from /v1/orders or the Shopify webhook, and the message it is
    attributed to (at most one)."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("account_id", "order_id"),
        Index("ix_orders_campaign_sid", "campaign_sid"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    order_id: Mapped[str] = mapped_column(String(64))  # the shop's own id
    source: Mapped[str] = mapped_column(String(8))  # api | shopify
    contact_id: Mapped[int | None] = mapped_column(BigId)
    phone: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed E.164
    phone_index: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed
    email_index: Mapped[str | None] = mapped_column(String(40))
    total: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime]  # when the shop took the order
    # Attribution: the message, how (click | delivery), and copies for the reports.
    message_id: Mapped[int | None] = mapped_column(BigId)
    attributed_by: Mapped[str | None] = mapped_column(String(8))
    click_id: Mapped[int | None] = mapped_column(BigId)
    campaign_sid: Mapped[str | None] = mapped_column(String(34))
    date_created: Mapped[datetime]
