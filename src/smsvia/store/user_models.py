"""Dashboard users and their sign-in sessions.

A user belongs to one account and has a role: owner (everything, users included), marketer
(sends, campaigns, segments, contacts) or viewer (reads). The email is sealed and found by its
blind index; the password is an argon2 hash. A session is a random token in a cookie, kept
here only as its SHA-256, so it can be revoked at once and a stolen database holds no
usable session. Signing in with the account's own SID and auth token makes a session without
a user, as the owner.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from smsvia.store.base import Base
from smsvia.store.types import BigId


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)  # US…
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[bytes] = mapped_column(LargeBinary)  # sealed
    email_index: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2
    role: Mapped[str] = mapped_column(String(16))  # owner | marketer | viewer
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class DashboardSession(Base):
    __tablename__ = "dashboard_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the cookie
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    # None: signed in with the account's SID and auth token.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    address: Mapped[str | None] = mapped_column(String(64))
