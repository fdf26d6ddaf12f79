"""A stolen database reveals no recipient number and no message body."""

from __future__ import annotations

from sqlalchemy import text

from smsvia.services.messages import SendRequest, send_message
from smsvia.services.quote import load_price_book


def test_raw_rows_hold_no_plaintext_number_or_body(backend):
    shop = backend.tenant()
    backend.run(
        send_message(
            backend.store,
            shop.principal,
            SendRequest(to="+14155550142", sender=shop.sender, body="Secret discount XYZZY"),
            price_book=load_price_book(),
        )
    )

    async def dump() -> bytes:
        async with backend.store.db.engine.connect() as connection:
            rows = (await connection.execute(text("SELECT * FROM messages"))).all()
            rows += (await connection.execute(text("SELECT * FROM message_events"))).all()
            rows += (await connection.execute(text("SELECT * FROM accounts"))).all()
        return repr(rows).encode()

    raw = backend.run(dump())
    assert b"4155550142" not in raw
    assert b"XYZZY" not in raw
    assert shop.token.encode() not in raw
