"""A value longer than its column, written by the batch inserts (store/rows.py).

PostgreSQL refuses it on every path, as a plain INSERT does, rather than cutting it short on
one path (an explicit cast of the array to varchar(n)[] would) and refusing it on another
(COPY). SQLite keeps any length. What comes from outside is fitted before it gets this far
(an SMSC's long ids: domain/receipt_ids.fitted), so neither happens to a message.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from smsvia.store.models import Connector, ReceiptInbox
from smsvia.store.rows import COPY_FROM, insert_many

LONG_ID = "relay-eu-west-1.node-07." * 3 + "000000000001"  # 84 characters; the column has 65


@pytest.mark.parametrize("count", [1, COPY_FROM], ids=["insert-of-arrays", "copy"])
def test_a_value_longer_than_its_column_is_refused_never_cut(backend, count):
    async def scenario():
        await backend.create_tenant()  # and its connector
        async with backend.store.db.sessions() as session:
            connector_id = await session.scalar(select(Connector.id))
        row = {
            "connector_id": connector_id,
            "smsc_message_id": LONG_ID,
            "state": "DELIVRD",
            "error": "",
            "recipient_index": "",
            "received_at": datetime.now(UTC),
            "applied_at": None,
            "attempts": 0,
        }
        try:
            async with backend.store.db.transaction() as session:
                await insert_many(session, ReceiptInbox.__table__, [row] * count)
        except Exception as exc:  # asyncpg's, wrapped by SQLAlchemy or not (COPY)
            refused = str(exc)
        else:
            refused = None
        async with backend.store.db.sessions() as session:
            lengths = await session.scalars(select(func.length(ReceiptInbox.smsc_message_id)))
            return refused, lengths.all()

    refused, lengths = backend.run(scenario())
    if backend.store.db.is_sqlite:
        assert (refused, lengths) == (None, [len(LONG_ID)] * count)
    else:
        assert refused is not None and "value too long for type character varying(65)" in refused
        assert lengths == []
