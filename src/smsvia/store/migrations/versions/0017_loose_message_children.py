"""timeline entries, parts and status callbacks name their message without a foreign key

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02

These rows are written at the rate messages are sent, a dozen or so for each message. On
PostgreSQL every row checked its key with a query of its own (locking the message, or the
callback, FOR KEY SHARE), and in the worker's and the receipts' transactions, which plan
each statement for its arguments (store/database.py), that query was planned anew for every
row: perf over a 10,000-message run put the key checks at 40 % of PostgreSQL's CPU, most of
it planning. The application writes these rows only beside or after their parent and
deletes them with it (store/messages.delete_message), so the keys guarded nothing it does
not keep itself. The keys to accounts and connectors stay.

SQLite drops a key by rebuilding the table. The attempts go first: rebuilding the
callbacks while the attempts still referred to them would cascade-delete the attempts.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, foreign key, column, parent), children before parents.
_LOOSENED = (
    (
        "webhook_attempts",
        "fk_webhook_attempts_delivery_id_webhook_deliveries",
        "delivery_id",
        "webhook_deliveries",
    ),
    ("webhook_deliveries", "fk_webhook_deliveries_message_id_messages", "message_id", "messages"),
    ("message_parts", "fk_message_parts_message_id_messages", "message_id", "messages"),
    ("message_events", "fk_message_events_message_id_messages", "message_id", "messages"),
)


def upgrade() -> None:
    for table, key, _column, _parent in _LOOSENED:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(key, type_="foreignkey")


def downgrade() -> None:
    for table, key, column, parent in reversed(_LOOSENED):
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(key, parent, [column], ["id"], ondelete="CASCADE")
