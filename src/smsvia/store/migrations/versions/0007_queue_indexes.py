"""queue indexes in the order claims read them, over due rows only

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

A claim asks for `due_at <= $1 ... ORDER BY due_at, id LIMIT n`. On due_at alone, the
generic plan PostgreSQL keeps for the prepared statement was a sequential scan and a sort
of the whole messages table, finished messages included, on every claim. On (due_at, id),
over rows that are due at all, the batch comes straight off the index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _partial(where: str) -> dict[str, sa.TextClause]:
    return {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}


def upgrade() -> None:
    for table in ("messages", "webhook_deliveries"):
        op.drop_index(f"ix_{table}_due_at", table_name=table)
        op.create_index(
            f"ix_{table}_due_at_id", table, ["due_at", "id"], **_partial("due_at IS NOT NULL")
        )
    op.drop_index("ix_receipt_inbox_applied_at", table_name="receipt_inbox")
    op.create_index(
        "ix_receipt_inbox_unapplied", "receipt_inbox", ["id"], **_partial("applied_at IS NULL")
    )


def downgrade() -> None:
    op.drop_index("ix_receipt_inbox_unapplied", table_name="receipt_inbox")
    op.create_index("ix_receipt_inbox_applied_at", "receipt_inbox", ["applied_at"])
    for table in ("messages", "webhook_deliveries"):
        op.drop_index(f"ix_{table}_due_at_id", table_name=table)
        op.create_index(f"ix_{table}_due_at", table, ["due_at"])
