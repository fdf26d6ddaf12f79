"""Tables. Contacts' numbers and message bodies are stored sealed (see crypto.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from smsvia.store.types import BigId, Money, UTCDateTime

# Stable constraint names, so Alembic migrations can refer to them on both databases.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), Decimal: Money}


def _held_leases(table: str) -> Index:
    """The rows some worker holds: how the claims of a worker that died are found."""
    held = text("lease_owner IS NOT NULL")
    return Index(f"ix_{table}_lease_owner", "lease_owner", postgresql_where=held, sqlite_where=held)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    friendly_name: Mapped[str] = mapped_column(String(255))
    auth_token: Mapped[bytes] = mapped_column(LargeBinary)  # sealed
    status: Mapped[str] = mapped_column(String(16), default="active")
    # How long an RCS message may go undelivered before it is revoked and sent as SMS.
    rcs_fallback_seconds: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    # Automatic replies to keywords; None: the defaults in services/consent.py.
    help_text: Mapped[str | None] = mapped_column(Text)
    opt_out_text: Mapped[str | None] = mapped_column(Text)
    opt_in_text: Mapped[str | None] = mapped_column(Text)
    # Marketing texts: quiet hours in the recipient's local time ("21:00-08:00"; None: that
    # default) and the most one person gets in 24 hours (None: only where state law caps it).
    quiet_hours: Mapped[str | None] = mapped_column(String(11))
    marketing_cap_24h: Mapped[int | None] = mapped_column(Integer)
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    friendly_name: Mapped[str] = mapped_column(String(255))
    secret_hash: Mapped[str] = mapped_column(String(255))  # argon2
    date_created: Mapped[datetime]


class Connector(Base):
    __tablename__ = "connectors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # smpp | rcs | http
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed password / token
    date_created: Mapped[datetime]


class Number(Base):
    """A sender an account may use as `From`: E.164 or an alphanumeric sender ID."""

    __tablename__ = "numbers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    phone_number: Mapped[str] = mapped_column(String(32), unique=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id"))
    rcs_connector_id: Mapped[int | None] = mapped_column(ForeignKey("connectors.id"))
    sms_url: Mapped[str | None] = mapped_column(Text)
    date_created: Mapped[datetime]


class Message(Base):
    """One message, and its place in the outbox (`due_at`, the lease)."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_account_id_id", "account_id", "id"),
        # The claim's order (due_at, id), for due messages only: a claim reads its batch
        # straight off the index, however many finished messages the table holds.
        Index(
            "ix_messages_due_at_id",
            "due_at",
            "id",
            postgresql_where=text("due_at IS NOT NULL"),
            sqlite_where=text("due_at IS NOT NULL"),
        ),
        Index("ix_messages_account_id_recipient_index", "account_id", "recipient_index"),
        _held_leases("messages"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    direction: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[bytes] = mapped_column(LargeBinary)  # sealed E.164
    recipient_index: Mapped[str] = mapped_column(String(40))  # blind index of the E.164
    body: Mapped[bytes] = mapped_column(LargeBinary)  # sealed
    media_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))
    encoding: Mapped[str] = mapped_column(String(8))
    num_segments: Mapped[int] = mapped_column(Integer)
    num_media: Mapped[int] = mapped_column(Integer, default=0)
    smart_encoded: Mapped[bool] = mapped_column(Boolean, default=False)
    price: Mapped[Decimal | None]
    price_unit: Mapped[str] = mapped_column(String(3))
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    status_callback: Mapped[str | None] = mapped_column(Text)
    validity_period: Mapped[int | None] = mapped_column(Integer)
    send_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    connector_id: Mapped[int | None] = mapped_column(ForeignKey("connectors.id"))
    category: Mapped[str | None] = mapped_column(String(16))  # transactional | marketing
    # RCS first, SMS as the fallback (see dispatch/rcs.py). `rich_content` is the sealed
    # native JSON of the content; the body holds its SMS rendering's source text.
    rcs_connector_id: Mapped[int | None] = mapped_column(ForeignKey("connectors.id"))
    rich_content: Mapped[bytes | None] = mapped_column(LargeBinary)
    rcs_state: Mapped[str | None] = mapped_column(String(16))
    fallback_after: Mapped[int | None] = mapped_column(Integer)  # seconds
    fallback_reason: Mapped[str | None] = mapped_column(String(32))
    fallback_price: Mapped[Decimal | None]  # the SMS's price, quoted up front like the RCS one
    preview_token: Mapped[str | None] = mapped_column(String(24), unique=True)
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]
    date_sent: Mapped[datetime | None]
    # Outbox: a worker takes the message when due_at has passed and no live lease holds it.
    due_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class MessagePart(Base):
    """One submit_sm of a message, matched to its delivery receipt by the SMSC's id."""

    __tablename__ = "message_parts"
    __table_args__ = (
        UniqueConstraint("message_id", "sequence"),
        Index("ix_message_parts_connector_id_smsc_key", "connector_id", "smsc_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id"))
    # pending | submitted | ambiguous | delivered | undelivered | failed
    status: Mapped[str] = mapped_column(String(16))
    smsc_message_id: Mapped[str | None] = mapped_column(String(65))
    # The id as receipts look it up (domain/receipt_ids.smsc_key): lower case, no leading zeros.
    smsc_key: Mapped[str | None] = mapped_column(String(65))
    error_code: Mapped[int | None] = mapped_column(Integer)
    submitted_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]


class MessageEvent(Base):
    """The timeline: every status change and decision about a message."""

    __tablename__ = "message_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


class WebhookDelivery(Base):
    """A status callback to make; retried with backoff until it succeeds or gives up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(
            "ix_webhook_deliveries_due_at_id",
            "due_at",
            "id",
            postgresql_where=text("due_at IS NOT NULL"),
            sqlite_where=text("due_at IS NOT NULL"),
        ),
        _held_leases("webhook_deliveries"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # sealed form parameters (JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | succeeded | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    date_created: Mapped[datetime]


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    response_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)


class ReceiptInbox(Base):
    """Every delivery receipt as it arrived, kept until it is matched to its message part.

    A receipt can overtake the commit of its own submit_sm_resp; it waits here, never lost.
    """

    __tablename__ = "receipt_inbox"
    # The receipts still to match, in order.
    __table_args__ = (
        Index(
            "ix_receipt_inbox_unapplied",
            "id",
            postgresql_where=text("applied_at IS NULL"),
            sqlite_where=text("applied_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id"))
    smsc_message_id: Mapped[str] = mapped_column(String(65))
    state: Mapped[str] = mapped_column(String(16))
    error: Mapped[str] = mapped_column(String(16), default="")
    recipient_index: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime]
    applied_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class RcsEvent(Base):
    """An event the RBM platform pushed to our webhook, kept until it is processed.

    The webhook only stores and answers 200 (RBM retries anything else for days); the
    dispatch applies events a batch at a time. `event_id` makes a repeated push a no-op.
    """

    __tablename__ = "rcs_events"
    __table_args__ = (
        UniqueConstraint("connector_id", "event_id"),
        Index("ix_rcs_events_processed_at", "processed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id"))
    event_id: Mapped[str] = mapped_column(String(128))
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # sealed event JSON (user text inside)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


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
