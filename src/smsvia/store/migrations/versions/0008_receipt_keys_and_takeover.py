"""receipt look-up keys on parts; finding a dead worker's claims

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

`smsc_key` is the SMSC id as receipts look it up (lower case, no leading zeros), so one
indexed look-up finds a part whichever way the SMSC writes the id in its receipt
(domain/receipt_ids.py). The partial index on `lease_owner` lists the messages and callbacks
some worker holds, so the holders that died can be found without reading the whole table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HELD = "lease_owner IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("message_parts") as table:
        table.add_column(sa.Column("smsc_key", sa.String(65), nullable=True))
    op.execute(
        "UPDATE message_parts SET smsc_key = COALESCE(NULLIF(LTRIM(LOWER(smsc_message_id), "
        "'0'), ''), '0') WHERE smsc_message_id IS NOT NULL"
    )
    op.drop_index("ix_message_parts_connector_id_smsc_message_id", table_name="message_parts")
    op.create_index(
        "ix_message_parts_connector_id_smsc_key", "message_parts", ["connector_id", "smsc_key"]
    )
    for table in ("messages", "webhook_deliveries"):
        op.create_index(
            f"ix_{table}_lease_owner",
            table,
            ["lease_owner"],
            postgresql_where=sa.text(_HELD),
            sqlite_where=sa.text(_HELD),
        )


def downgrade() -> None:
    for table in ("messages", "webhook_deliveries"):
        op.drop_index(f"ix_{table}_lease_owner", table_name=table)
    op.drop_index("ix_message_parts_connector_id_smsc_key", table_name="message_parts")
    op.create_index(
        "ix_message_parts_connector_id_smsc_message_id",
        "message_parts",
        ["connector_id", "smsc_message_id"],
    )
    with op.batch_alter_table("message_parts") as table:
        table.drop_column("smsc_key")
