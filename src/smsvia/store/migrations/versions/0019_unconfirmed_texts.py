"""customers' one-part texts whose answer the SMSC may not have read

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03

A customer's text stored just before its link dropped (or the process died), its
deliver_sm_resp written but never read, is offered again by the SMSC on the next bind. A
long text's parts know their place and were never stored twice; a one-part text has nothing
to know it by, and became a second message: a second reply to HELP, a second forward to the
shop. Such texts are now kept here, by blind indexes, until the SMSC has surely read the
answer; an offer on another link that finds one is the same text again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smsvia.store.types

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unconfirmed_texts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "number_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("source_index", sa.String(length=40), nullable=False),
        sa.Column("body_index", sa.String(length=40), nullable=False),
        sa.Column("link", sa.String(length=96), nullable=False),
        sa.Column("message_sid", sa.String(length=34), nullable=False),
        sa.Column("received_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["numbers.id"],
            name=op.f("fk_unconfirmed_texts_number_id_numbers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unconfirmed_texts")),
    )
    with op.batch_alter_table("unconfirmed_texts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_unconfirmed_texts_text",
            ["number_id", "source_index", "body_index"],
            unique=False,
        )
        batch_op.create_index("ix_unconfirmed_texts_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_table("unconfirmed_texts")
