"""the parts of customers' long texts, kept until the whole text is in

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02

A text longer than one SMS reaches us as several deliver_sm, one per part, each saying which
part of how many it is (a user data header, or SMPP's sar_* TLVs). Each part was stored as
a message of its own: a customer's long reply reached the shop in pieces, out of order. The
parts now wait here (sealed, like every message body) until the last one comes, and stay a
while after, so that a part the SMSC offers again is known for what it is.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smsvia.store.types

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_parts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("destination", sa.String(length=32), nullable=False),
        sa.Column("source", sa.LargeBinary(), nullable=False),
        sa.Column("source_index", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("data_coding", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("received_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_as", sa.String(length=34), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_parts")),
    )
    with op.batch_alter_table("inbound_parts", schema=None) as batch_op:
        batch_op.create_index(
            "uq_inbound_parts_place",
            ["destination", "source_index", "reference", "total", "sequence"],
            unique=True,
        )
        batch_op.create_index("ix_inbound_parts_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_table("inbound_parts")
