"""Tables of the marketing side: contacts, the consent ledger, opt-in forms, segments and
campaigns. Contacts' numbers, emails, names and attributes are sealed; blind indexes find them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from smsvia.store.base import Base
from smsvia.store.types import BigId


class ConsentEvent(Base):
    """The consent ledger: append-only, one hash chain per account (domain/consent.py).

    `hash` covers the previous entry's hash and this entry's fields, so editing or deleting
    any entry shows (`smsvia consent verify`). The number is sealed; `phone_index` finds it.
    """

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_events_account_id_phone_index_id", "account_id", "phone_index", "id"),
        Index("ix_consent_events_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    phone: Mapped[bytes] = mapped_column(LargeBinary)  # sealed E.164
    phone_index: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(16))  # keyword | api | form | import
    evidence: Mapped[bytes] = mapped_column(LargeBinary)  # sealed JSON: message id, IP, ...
    disclosure: Mapped[str] = mapped_column(Text, default="")  # the exact text shown
    at: Mapped[datetime]
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Contact(Base):
    """A shop's customer. Number, email, names and custom attributes are sealed; the
    blind indexes find a contact by number or email without opening anything."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("account_id", "phone_index"),
        Index("ix_contacts_account_id_email_index", "account_id", "email_index"),
        # Segments stream their contacts in id order (store/audiences.py).
        Index("ix_contacts_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    phone: Mapped[bytes] = mapped_column(LargeBinary)
    phone_index: Mapped[str] = mapped_column(String(40))
    email: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_index: Mapped[str | None] = mapped_column(String(40))
    first_name: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_name: Mapped[bytes | None] = mapped_column(LargeBinary)
    attributes: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed JSON object
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(16))
    first_name_index: Mapped[str | None] = mapped_column(String(40))  # of the lower-cased name
    # Derived from the number: ISO country and, for US numbers, the area code's state.
    # NULL country: not derived yet (contacts from before these columns; see fill_derived).
    country: Mapped[str | None] = mapped_column(String(3))
    state: Mapped[str | None] = mapped_column(String(2))
    # Where the number stands on the consent ledger, kept in step by every ledger append so
    # a segment can count a million contacts without reading the ledger.
    consent: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    marketing_allowed: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # Engagement, filled by tracking and attribution.
    last_clicked_at: Mapped[datetime | None]
    last_delivered_at: Mapped[datetime | None]
    last_order_at: Mapped[datetime | None]
    orders_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total_spent: Mapped[Decimal] = mapped_column(default=Decimal(0), server_default="0")
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class ContactAttribute(Base):
    """The blind index of one custom attribute's value: how a segment matches
    `attributes.NAME` without opening the sealed attributes."""

    __tablename__ = "contact_attributes"
    __table_args__ = (
        Index(
            "ix_contact_attributes_account_id_name_value_index", "account_id", "name", "value_index"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(BigId)
    name: Mapped[str] = mapped_column(String(64))
    value_index: Mapped[str] = mapped_column(String(40))


class Segment(Base):
    """A saved audience: conditions over contacts, combined with all or any."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    match: Mapped[str] = mapped_column(String(3))  # all | any
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class Campaign(Base):
    """A send to an audience; its fan-out streams contacts past `cursor` (see
    services/campaigns/fanout.py), so a restart resumes where it stopped."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(32))
    segment_sid: Mapped[str | None] = mapped_column(String(34))
    contact_sids: Mapped[list[str] | None] = mapped_column(JSON)
    # Fixed at launch, so deleting or editing the segment later changes nothing:
    # {"match", "conditions"} of the segment, or {"contact_ids": [...]}.
    audience: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    channel: Mapped[str] = mapped_column(String(8))
    # [{"name", "weight", "content"}]; a campaign without A/B has one variant.
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    ab_test: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    send_at: Mapped[datetime | None]
    local_send_time: Mapped[str | None] = mapped_column(String(5))
    category: Mapped[str] = mapped_column(String(16))
    budget: Mapped[Decimal | None]
    # What the messages queued so far may cost at most (RCS or its SMS fallback, whichever
    # is dearer): the fan-out stops before this would pass the budget.
    committed: Mapped[Decimal] = mapped_column(default=Decimal(0), server_default="0")
    shorten_urls: Mapped[bool] = mapped_column(default=True)
    # {"title", "description", "image"} that link previews show instead of the
    # destination page's own Open Graph tags.
    link_preview: Mapped[dict[str, str] | None] = mapped_column(JSON)
    fallback_after_seconds: Mapped[int | None] = mapped_column(Integer)
    status_callback: Mapped[str | None] = mapped_column(Text)
    # Fan-out: the phase (all | sample | rest), the last contact id done in it, the
    # moment an A/B test is decided and its winner.
    phase: Mapped[str] = mapped_column(String(8), default="all")
    cursor: Mapped[int] = mapped_column(BigId, default=0)
    # The newest contact when it launched: contacts added later are not its audience.
    audience_until: Mapped[int | None] = mapped_column(BigId)
    decide_at: Mapped[datetime | None]
    winner: Mapped[str | None] = mapped_column(String(64))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    excluded: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    launched_at: Mapped[datetime | None]
    fanned_out_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class OptInForm(Base):
    """A hosted opt-in form (/optin/{sid}): what it shows and which number confirms."""

    __tablename__ = "optin_forms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    number_id: Mapped[int] = mapped_column(ForeignKey("numbers.id"))
    brand: Mapped[str] = mapped_column(String(100))
    disclosure: Mapped[str] = mapped_column(Text)  # the exact consent text beside the box
    # The texts sent: "Reply Y to confirm" and, after Y, the welcome. None: the defaults.
    confirm_text: Mapped[str | None] = mapped_column(Text)
    welcome_text: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]
