"""Dashboard users and revocable sign-in sessions

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30

`users`: people who sign in to the dashboard with an email (sealed, found by its blind
index) and a password (argon2), each with a role. `dashboard_sessions`: every sign-in, kept
as the SHA-256 of its cookie, so it can be revoked at once (the cookie used to be a signed
token the server could not take back).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from smsvia.store.types import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", _ID, nullable=False),
        sa.Column("sid", sa.String(length=34), nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("email", sa.LargeBinary(), nullable=False),
        sa.Column("email_index", sa.String(length=40), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("date_created", UTCDateTime(), nullable=False),
        sa.Column("date_updated", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_users_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("sid", name=op.f("uq_users_sid")),
        sa.UniqueConstraint("email_index", name=op.f("uq_users_email_index")),
    )
    op.create_index(op.f("ix_users_account_id"), "users", ["account_id"])
    op.create_table(
        "dashboard_sessions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_dashboard_sessions_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_dashboard_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_dashboard_sessions_token_hash")),
    )
    op.create_index(op.f("ix_dashboard_sessions_account_id"), "dashboard_sessions", ["account_id"])
    op.create_index(op.f("ix_dashboard_sessions_user_id"), "dashboard_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_table("dashboard_sessions")
    op.drop_table("users")
