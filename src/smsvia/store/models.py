"""Tables of the send path: accounts, senders, messages and what happens to them.

Contacts, consent, segments and campaigns are in marketing_models.py. Numbers and message
bodies are stored sealed (see crypto.py).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
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

from smsvia.store import (  # noqa: F401  (their tables join Base.metadata)
    audit_models,
    marketing_models,
    media_models,
    tracking_models,
    user_models,
)
from smsvia.store.base import Base, held_leases
from smsvia.store.types import BigId


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
    # Orders: the Shopify webhook's secret (sealed), and how far back an order looks for
    # the click, else the delivered campaign message, it is attributed to.
    shopify_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    attribution_click_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    attribution_delivery_hours: Mapped[int] = mapped_column(
        Integer, default=24, server_default="24"
    )
    # Requests a second each of its credentials may make (None: no limit).
    rate_limit: Mapped[float | None] = mapped_column(Float)
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
    scopes: Mapped[list[str] | None] = mapped_column(JSON)  # None: every scope


class Connector(Base):
    __tablename__ = "connectors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # smpp | rcs | http
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed password / token
    date_created: Mapped[datetime]


class RateBucket(Base):
    """A rate limit shared by every process: a connector's submit rate, a credential's
    requests, an address's sign-ups (store/rate_limits.py)."""

    __tablename__ = "rate_buckets"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(index=True)


class Number(Base):
    """A sender an account may use as `From`: E.164 or an alphanumeric sender ID."""

    __tablename__ = "numbers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    phone_number: Mapped[str] = mapped_column(String(32), unique=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id"))
    rcs_connector_id: Mapped[int | None] = mapped_column(ForeignKey("connectors.id"))
    mms_connector_id: Mapped[int | None] = mapped_column(ForeignKey("connectors.id"))
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
        held_leases("messages"),
        # A campaign texts each contact once, whatever crashes and restarts its fan-out.
        Index(
            "uq_messages_campaign_sid_contact_id",
            "campaign_sid",
            "contact_id",
            unique=True,
            postgresql_where=text("campaign_sid IS NOT NULL"),
            sqlite_where=text("campaign_sid IS NOT NULL"),
        ),
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
    # Set on the messages a campaign sends: which campaign, to which contact, which variant.
    campaign_sid: Mapped[str | None] = mapped_column(String(34))
    contact_id: Mapped[int | None] = mapped_column(BigId)
    campaign_variant: Mapped[str | None] = mapped_column(String(64))
    # MMS (dispatch/mms.py): the MM7 connector; the SMS with a preview link is the fallback.
    mms_connector_id: Mapped[int | None] = mapped_column(ForeignKey("connectors.id"))


class MessagePart(Base):
    """One submit_sm of a message, matched to its delivery receipt by the SMSC's id."""

    __tablename__ = "message_parts"
    __table_args__ = (
        UniqueConstraint("message_id", "sequence"),
        Index("ix_message_parts_connector_id_smsc_key", "connector_id", "smsc_key"),
        # The parts a crash left unanswered (outbox.ambiguous_parts_for): a handful, looked
        # up whenever a receipt overtakes its submit's commit, among every part ever sent.
        Index(
            "ix_message_parts_ambiguous",
            "connector_id",
            "id",
            postgresql_where=text("status = 'ambiguous'"),
            sqlite_where=text("status = 'ambiguous'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId)  # no foreign key: see MessageEvent
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
    # The rows written at the send rate (timeline, parts, callbacks and their attempts) name
    # their parent without a foreign key: on PostgreSQL each row's check was a query of its
    # own, planned anew in the worker's transactions (migration 0017). They are deleted with
    # their message (store/messages.delete_message).
    message_id: Mapped[int] = mapped_column(BigId, index=True)
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
        held_leases("webhook_deliveries"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    message_id: Mapped[int | None] = mapped_column(BigId, index=True)  # see MessageEvent
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
    delivery_id: Mapped[int] = mapped_column(BigId, index=True)  # see MessageEvent
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


class InboundPart(Base):
    """One part of a long text from a customer, kept until the rest of it comes
    (services/inbound_parts.py), then joined into one inbound message.

    Stored before the SMSC hears that we have it, like every inbound message. Joined parts
    stay a while (`received_as` set), so a part offered again after its text was received
    (its answer lost to a crash) finds its place taken and changes nothing.
    """

    __tablename__ = "inbound_parts"
    __table_args__ = (
        # Where a part belongs: this customer's text with this reference to this number.
        Index(
            "uq_inbound_parts_place",
            "destination",
            "source_index",
            "reference",
            "total",
            "sequence",
            unique=True,
        ),
        Index("ix_inbound_parts_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    destination: Mapped[str] = mapped_column(String(32))  # our number
    source: Mapped[bytes] = mapped_column(LargeBinary)  # sealed E.164 of the customer
    source_index: Mapped[str] = mapped_column(String(40))  # its blind index
    reference: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    data_coding: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # sealed: the part's octets, in hex
    connector: Mapped[str] = mapped_column(String(64))  # the connector it came on
    received_at: Mapped[datetime]
    received_as: Mapped[str | None] = mapped_column(String(34))  # the message it became


class UnconfirmedText(Base):
    """A customer's one-part text, received, whose deliver_sm_resp the SMSC may never have
    read: no answer to a later request on the same link has come yet (channels/smpp_session
    `Confirm`). SMPP gives such a text no id; if its link ends first, the SMSC offers it
    again on the next, and finding it here is what tells the offer from a new text.
    """

    __tablename__ = "unconfirmed_texts"
    __table_args__ = (
        Index("ix_unconfirmed_texts_text", "number_id", "source_index", "body_index"),
        Index("ix_unconfirmed_texts_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number_id: Mapped[int] = mapped_column(ForeignKey("numbers.id"))  # ours, texted
    source_index: Mapped[str] = mapped_column(String(40))  # the customer's blind index
    body_index: Mapped[str] = mapped_column(String(40))  # the text's blind index
    link: Mapped[str] = mapped_column(String(96))  # the bind it came on (SmppChannel.link)
    message_sid: Mapped[str] = mapped_column(String(34))  # what it was received as
    received_at: Mapped[datetime]
