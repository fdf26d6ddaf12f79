"""RCS: rich content and the fallback on messages, the RBM events inbox, per-account window

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smsvia.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rcs_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "connector_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connector_id"], ["connectors.id"], name=op.f("fk_rcs_events_connector_id_connectors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rcs_events")),
        sa.UniqueConstraint(
            "connector_id", "event_id", name=op.f("uq_rcs_events_connector_id_event_id")
        ),
    )
    with op.batch_alter_table("rcs_events", schema=None) as batch_op:
        batch_op.create_index("ix_rcs_events_processed_at", ["processed_at"], unique=False)

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rcs_fallback_seconds", sa.Integer(), nullable=False, server_default="60")
        )

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column(
                "rcs_connector_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("rich_content", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("rcs_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("fallback_after", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("fallback_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("preview_token", sa.String(length=24), nullable=True))
        batch_op.add_column(
            sa.Column(
                "fallback_price",
                sa.Numeric(precision=14, scale=6).with_variant(
                    smsvia.store.types.DecimalText(length=32), "sqlite"
                ),
                nullable=True,
            )
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_messages_preview_token"), ["preview_token"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_messages_rcs_connector_id_connectors"),
            "connectors",
            ["rcs_connector_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_messages_rcs_connector_id_connectors"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_messages_preview_token"), type_="unique")
        batch_op.drop_column("fallback_price")
        batch_op.drop_column("preview_token")
        batch_op.drop_column("fallback_reason")
        batch_op.drop_column("fallback_after")
        batch_op.drop_column("rcs_state")
        batch_op.drop_column("rich_content")
        batch_op.drop_column("rcs_connector_id")
        batch_op.drop_column("category")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("rcs_fallback_seconds")

    with op.batch_alter_table("rcs_events", schema=None) as batch_op:
        batch_op.drop_index("ix_rcs_events_processed_at")

    op.drop_table("rcs_events")
