"""Rate limits per credential, in buckets every process shares

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30

`rate_buckets` holds every shared rate limit by name: the connectors' submit rates (which
had a table of their own, `connector_tokens`; a bucket starts full, so nothing is carried
over), each credential's requests and each address's opt-in sign-ups.
`accounts.rate_limit` is the requests a second each of an account's credentials may make.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from smsvia.store.types import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_buckets",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rate_buckets")),
    )
    op.create_index(op.f("ix_rate_buckets_updated_at"), "rate_buckets", ["updated_at"])
    op.drop_table("connector_tokens")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_limit", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("rate_limit")
    op.create_table(
        "connector_tokens",
        sa.Column("connector_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["connectors.id"],
            name=op.f("fk_connector_tokens_connector_id_connectors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connector_id", name=op.f("pk_connector_tokens")),
    )
    op.drop_index(op.f("ix_rate_buckets_updated_at"), table_name="rate_buckets")
    op.drop_table("rate_buckets")
