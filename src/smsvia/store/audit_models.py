"""The audit log: who changed what, when, from where. Rows are only ever added: on both
databases a trigger refuses UPDATE and DELETE (migration 0014), and retention never prunes
them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from smsvia.store.base import Base
from smsvia.store.types import BigId


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The account changed; None for what belongs to the whole server (connectors, schema).
    account_id: Mapped[int | None] = mapped_column(BigId)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))  # AC…, SK…, "dashboard:AC…", "cli:root"
    action: Mapped[str] = mapped_column(String(64))  # "keys.create", "campaigns.launch", …
    object: Mapped[str | None] = mapped_column(String(128))  # the SID or name changed
    address: Mapped[str | None] = mapped_column(String(64))  # the client's IP, "local" (CLI)
    # What was given, by name only: never a value (a value may be a secret).
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
