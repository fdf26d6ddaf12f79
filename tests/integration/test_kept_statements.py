"""The send path's statements are built once and kept, on SQLite and PostgreSQL: building
one and its cache key cost more than running it (50-400 µs), so a second batch must run the
very statements the first one built."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from smsvia.domain.consent import DECIDING, EXPRESS
from smsvia.store import consent, leases, outbox, rcs_events, webhooks
from smsvia.store.models import Connector, WebhookDelivery
from tests.integration.test_outbox_batches import listening, queue


@contextlib.contextmanager
def executed(store):
    """Every statement object executed meanwhile (kept alive, so none is mistaken for
    another made later at the same address)."""
    seen: list[object] = []

    def listen(conn, clauseelement, multiparams, params, execution_options):
        seen.append(clauseelement)

    with listening(store, "before_execute", listen):
        yield seen


async def one_batch(backend, shop, connector_id: int, now: datetime) -> None:
    """What a worker batch does: claim (lock, save), read parts and messages, keep receipts
    tried, look for callbacks, lease callbacks, keep an RBM event (the second time a repeat),
    and the intake's consent look-up."""
    store = backend.store
    async with store.db.transaction() as session:
        claimed = await outbox.claim_due_messages(
            session, owner="test", now=now, lease_until=now + timedelta(minutes=1), limit=2
        )
        ids = [message.id for message in claimed]
        await outbox.save(session, claimed)
        await outbox.parts_of(session, ids)
        await outbox.messages_for_update(session, ids)
        await outbox.parts_by_smsc_keys(session, 1, ["7f"])
        await outbox.mark_receipts_tried(session, [1, 2], matched={1}, now=now)
        await webhooks.existing_deliveries(session, ids)
        await leases.lease_due(
            session,
            WebhookDelivery.__table__,
            owner="test",
            now=now,
            lease_until=now,
            limit=2,
            returning=(WebhookDelivery.__table__.c.id,),
        )
        await rcs_events.add_event(session, connector_id, "event-1", b"{}", now)
        phones = store.cipher.indexes(["+14155550000"], "phone")
        await consent.standings(session, shop.principal.account_id, phones, DECIDING, EXPRESS)


async def a_connector(backend) -> int:
    async with backend.store.db.sessions() as session:
        return await session.scalar(select(Connector.id).limit(1))


def test_a_second_batch_runs_the_statements_the_first_one_built(backend):
    shop = backend.tenant()
    backend.run(queue(backend, shop, 4))
    now = datetime.now(UTC)
    connector_id = backend.run(a_connector(backend))
    with executed(backend.store) as first:
        backend.run(one_batch(backend, shop, connector_id, now))
    with executed(backend.store) as second:
        backend.run(one_batch(backend, shop, connector_id, now))
    assert len(first) == len(second) >= 10
    rebuilt = [s for s, t in zip(first, second, strict=True) if s is not t]
    assert not rebuilt, [str(s).split("\n")[0] for s in rebuilt]
