"""receipt inbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smsvia.store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receipt_inbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "connector_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("smsc_message_id", sa.String(length=65), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=16), nullable=False),
        sa.Column("recipient_index", sa.String(length=40), nullable=False),
        sa.Column("received_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("applied_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["connectors.id"],
            name=op.f("fk_receipt_inbox_connector_id_connectors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_inbox")),
    )
    with op.batch_alter_table("receipt_inbox", schema=None) as batch_op:
        batch_op.create_index("ix_receipt_inbox_applied_at", ["applied_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("receipt_inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_receipt_inbox_applied_at")

    op.drop_table("receipt_inbox")
