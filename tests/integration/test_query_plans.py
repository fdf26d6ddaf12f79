"""Lookups on the send path read an index, not the whole table, once the tables hold what a
server that has run for a while holds."""

from __future__ import annotations

from sqlalchemy import event, text

from smsvia.services.messages import SendRequest, send_message
from smsvia.services.quote import load_price_book
from smsvia.store import outbox
from smsvia.store.models import MessagePart
from smsvia.store.rows import insert_many

FINISHED_PARTS = 5_000


async def _plan_of_ambiguous_lookup(store, connector_id: int, wanted) -> str:
    """The database's plan for `outbox.ambiguous_parts_for`, as the worker sends it."""
    sent: list[tuple[str, object]] = []

    def listen(conn, cursor, sql, params, context, executemany):
        sent.append((sql, params))

    async with store.db.sessions() as session:
        connection = await session.connection()
        event.listen(connection.sync_connection, "before_cursor_execute", listen)
        try:
            await outbox.ambiguous_parts_for(session, connector_id, wanted)
        finally:
            event.remove(connection.sync_connection, "before_cursor_execute", listen)
        ((sql, params),) = sent
        postgres = session.bind.dialect.name == "postgresql"
        explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
        rows = await connection.exec_driver_sql(explain + sql, params)
        return "\n".join(str(row[-1]) for row in rows)


def test_ambiguous_parts_are_found_without_reading_every_part(backend):
    """A receipt that names no part looks for ambiguous ones: a handful among every part
    ever sent, so the lookup must not grow with the table."""
    shop = backend.tenant()

    async def scenario():
        await send_message(
            backend.store,
            shop.principal,
            SendRequest(to="+14155550100", sender=shop.sender, body="Your order has shipped"),
            price_book=load_price_book(),
        )
        async with backend.store.db.transaction() as session:
            message_id, connector_id = (
                await session.execute(text("SELECT id, connector_id FROM messages"))
            ).one()
            finished = [
                {
                    "message_id": message_id,
                    "sequence": sequence,
                    "connector_id": connector_id,
                    "status": "delivered",
                    "smsc_message_id": f"{sequence}",
                    "smsc_key": f"{sequence}",
                    "error_code": None,
                    "submitted_at": None,
                    "done_at": None,
                }
                for sequence in range(FINISHED_PARTS)
            ]
            await insert_many(session, MessagePart.__table__, finished)
        async with backend.store.db.sessions() as session:
            await session.execute(text("ANALYZE"))
            await session.commit()
        for wanted in (None, {"some-handset-index"}):
            plan = await _plan_of_ambiguous_lookup(backend.store, connector_id, wanted)
            assert "ix_message_parts_ambiguous" in plan, plan
            assert "Seq Scan on message_parts" not in plan, plan

    backend.run(scenario())
