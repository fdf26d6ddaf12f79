"""quiet hours, marketing caps and hosted opt-in forms

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smsvia.store.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quiet_hours", sa.String(length=11), nullable=True))
        batch_op.add_column(sa.Column("marketing_cap_24h", sa.Integer(), nullable=True))

    op.create_table(
        "optin_forms",
        sa.Column("id", _ID, nullable=False),
        sa.Column("sid", sa.String(length=34), nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("number_id", _ID, nullable=False),
        sa.Column("brand", sa.String(length=100), nullable=False),
        sa.Column("disclosure", sa.Text(), nullable=False),
        sa.Column("confirm_text", sa.Text(), nullable=True),
        sa.Column("welcome_text", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("date_created", smsvia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("date_updated", smsvia.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_optin_forms_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["number_id"], ["numbers.id"], name=op.f("fk_optin_forms_number_id_numbers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_optin_forms")),
        sa.UniqueConstraint("sid", name=op.f("uq_optin_forms_sid")),
    )
    with op.batch_alter_table("optin_forms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_optin_forms_account_id"), ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("optin_forms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_optin_forms_account_id"))
    op.drop_table("optin_forms")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("marketing_cap_24h")
        batch_op.drop_column("quiet_hours")
