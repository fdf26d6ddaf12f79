"""the ambiguous parts, indexed apart from every part ever sent

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01

When a receipt names no part (it overtook its submit_sm_resp's commit, or a crash left its
part `ambiguous`), the receipts look for ambiguous parts to the same handset. Nothing
indexed `status`, so PostgreSQL read the whole of message_parts each time: 7 ms at 100,000
parts, 23 ms at 200,000, and on, under load, as often as receipts overtake their submits.
Ambiguous parts are a window's worth at most; over them alone the lookup is an index read.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AMBIGUOUS = sa.text("status = 'ambiguous'")


def upgrade() -> None:
    op.create_index(
        "ix_message_parts_ambiguous",
        "message_parts",
        ["connector_id", "id"],
        postgresql_where=_AMBIGUOUS,
        sqlite_where=_AMBIGUOUS,
    )


def downgrade() -> None:
    op.drop_index("ix_message_parts_ambiguous", table_name="message_parts")
