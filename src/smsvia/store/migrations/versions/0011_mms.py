"""MMS

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

Numbers and messages gain their MM7 connector; each medium an MMS carried gets a row
(its bytes are a file under the data directory, named by their SHA-256).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smsvia.store.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", _ID, nullable=False),
        sa.Column("sid", sa.String(length=34), nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("message_id", _ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("date_created", smsvia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_media_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        sa.UniqueConstraint("sid", name=op.f("uq_media_sid")),
    )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index(
            "ix_media_message_id_position", ["message_id", "position"], unique=False
        )
    for table in ("numbers", "messages"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("mms_connector_id", _ID, nullable=True))
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_mms_connector_id_connectors"),
                "connectors",
                ["mms_connector_id"],
                ["id"],
            )


def downgrade() -> None:
    for table in ("messages", "numbers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_mms_connector_id_connectors"), type_="foreignkey"
            )
            batch_op.drop_column("mms_connector_id")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index("ix_media_message_id_position")
    op.drop_table("media")
