"""segments and campaigns

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

Contacts gain what segments match on without opening sealed fields: the country and state
their number belongs to, where they stand on the consent ledger, a blind index of the first
name and of each custom attribute, and engagement figures (filled by tracking). Existing
contacts get the derived columns filled at the next start (services/contacts.fill_derived);
`country IS NULL` marks the ones still to do. Messages a campaign sends name it, and the
contact they went to, once each.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smsvia.store.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connector_tokens",
        sa.Column(
            "connector_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["connectors.id"],
            name=op.f("fk_connector_tokens_connector_id_connectors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connector_id", name=op.f("pk_connector_tokens")),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sid", sa.String(length=34), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("segment_sid", sa.String(length=34), nullable=True),
        sa.Column("contact_sids", sa.JSON(), nullable=True),
        sa.Column("audience", sa.JSON(), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("ab_test", sa.JSON(), nullable=True),
        sa.Column("send_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("local_send_time", sa.String(length=5), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column(
            "budget",
            sa.Numeric(precision=14, scale=6).with_variant(
                smsvia.store.types.DecimalText(length=32), "sqlite"
            ),
            nullable=True,
        ),
        sa.Column(
            "committed",
            sa.Numeric(precision=14, scale=6).with_variant(
                smsvia.store.types.DecimalText(length=32), "sqlite"
            ),
            server_default="0",
            nullable=False,
        ),
        sa.Column("shorten_urls", sa.Boolean(), nullable=False),
        sa.Column("fallback_after_seconds", sa.Integer(), nullable=True),
        sa.Column("status_callback", sa.Text(), nullable=True),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("cursor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "audience_until", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("decide_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("winner", sa.String(length=64), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("launched_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fanned_out_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("date_created", smsvia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("date_updated", smsvia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_campaigns_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("sid", name=op.f("uq_campaigns_sid")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaigns_account_id"), ["account_id"], unique=False)

    op.create_table(
        "segments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sid", sa.String(length=34), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("match", sa.String(length=3), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("date_created", smsvia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("date_updated", smsvia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_segments_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("sid", name=op.f("uq_segments_sid")),
    )
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_segments_account_id"), ["account_id"], unique=False)

    op.create_table(
        "contact_attributes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value_index", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_attributes_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_attributes")),
    )
    with op.batch_alter_table("contact_attributes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_attributes_account_id_name_value_index",
            ["account_id", "name", "value_index"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_contact_attributes_contact_id"), ["contact_id"], unique=False
        )

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_name_index", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("country", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("state", sa.String(length=2), nullable=True))
        batch_op.add_column(
            sa.Column("consent", sa.String(length=16), server_default="none", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "marketing_allowed", sa.Boolean(), server_default=sa.text("false"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "last_clicked_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "last_delivered_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("last_order_at", smsvia.store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("orders_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "total_spent",
                sa.Numeric(precision=14, scale=6).with_variant(
                    smsvia.store.types.DecimalText(length=32), "sqlite"
                ),
                server_default="0",
                nullable=False,
            )
        )
        batch_op.create_index("ix_contacts_account_id_id", ["account_id", "id"], unique=False)

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_sid", sa.String(length=34), nullable=True))
        batch_op.add_column(
            sa.Column(
                "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.add_column(sa.Column("campaign_variant", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "uq_messages_campaign_sid_contact_id",
            ["campaign_sid", "contact_id"],
            unique=True,
            postgresql_where=sa.text("campaign_sid IS NOT NULL"),
            sqlite_where=sa.text("campaign_sid IS NOT NULL"),
        )


def downgrade() -> None:
    op.drop_table("connector_tokens")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_messages_campaign_sid_contact_id",
            postgresql_where=sa.text("campaign_sid IS NOT NULL"),
            sqlite_where=sa.text("campaign_sid IS NOT NULL"),
        )
        batch_op.drop_column("campaign_variant")
        batch_op.drop_column("contact_id")
        batch_op.drop_column("campaign_sid")

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_account_id_id")
        batch_op.drop_column("total_spent")
        batch_op.drop_column("orders_count")
        batch_op.drop_column("last_order_at")
        batch_op.drop_column("last_delivered_at")
        batch_op.drop_column("last_clicked_at")
        batch_op.drop_column("marketing_allowed")
        batch_op.drop_column("consent")
        batch_op.drop_column("state")
        batch_op.drop_column("country")
        batch_op.drop_column("first_name_index")

    with op.batch_alter_table("contact_attributes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_attributes_contact_id"))
        batch_op.drop_index("ix_contact_attributes_account_id_name_value_index")

    op.drop_table("contact_attributes")
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_segments_account_id"))

    op.drop_table("segments")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_account_id"))

    op.drop_table("campaigns")
