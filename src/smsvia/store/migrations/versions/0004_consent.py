"""consent ledger and keyword replies

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smsvia.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "consent_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("phone", sa.LargeBinary(), nullable=False),
        sa.Column("phone_index", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.LargeBinary(), nullable=False),
        sa.Column("disclosure", sa.Text(), nullable=False),
        sa.Column("at", smsvia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_consent_events_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_consent_events_hash")),
    )
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index("ix_consent_events_account_id_id", ["account_id", "id"], unique=False)
        batch_op.create_index(
            "ix_consent_events_account_id_phone_index_id",
            ["account_id", "phone_index", "id"],
            unique=False,
        )

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("help_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("opt_out_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("opt_in_text", sa.Text(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("opt_in_text")
        batch_op.drop_column("opt_out_text")
        batch_op.drop_column("help_text")

    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_events_account_id_phone_index_id")
        batch_op.drop_index("ix_consent_events_account_id_id")

    op.drop_table("consent_events")
