"""The sender's route (its connectors) is looked up once for all the sends that want it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event

from smsvia.domain.errors import InvalidParameter
from smsvia.services import routing
from smsvia.services.senders import add_number

CONCURRENT_SENDS = 50


def _lookups_of_numbers(store) -> list[str]:
    seen: list[str] = []

    def listen(conn, cursor, sql, params, context, executemany):
        if "FROM numbers" in sql:
            seen.append(sql)

    event.listen(store.db.engine.sync_engine, "before_cursor_execute", listen)
    return seen


def test_sends_that_find_the_route_expired_share_one_lookup(backend):
    shop = backend.tenant()
    seen = _lookups_of_numbers(backend.store)

    async def scenario():
        routing._routes.clear()  # as if SENDER_TTL had run out
        return await asyncio.gather(
            *(
                routing.sender_route(backend.store, shop.principal, shop.sender)
                for _ in range(CONCURRENT_SENDS)
            )
        )

    routes = backend.run(scenario())
    assert len(set(routes)) == 1
    assert len(seen) == 1


def test_an_unknown_sender_is_refused_to_every_send_and_usable_once_added(backend):
    shop = backend.tenant()
    stranger = "+15005550009"

    async def scenario():
        outcomes = await asyncio.gather(
            *(routing.sender_route(backend.store, shop.principal, stranger) for _ in range(5)),
            return_exceptions=True,
        )
        assert all(isinstance(o, InvalidParameter) and o.code == 21606 for o in outcomes)
        await add_number(backend.store, shop.sid, stranger, connector="smsc1")
        return await routing.sender_route(backend.store, shop.principal, stranger)

    route = backend.run(scenario())
    assert route.connector_id is not None


@pytest.fixture(autouse=True)
def _fresh_routes():
    routing._routes.clear()
    yield
    routing._routes.clear()
