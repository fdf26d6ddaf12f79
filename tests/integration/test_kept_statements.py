"""The send path's statements are built once and kept, on SQLite and PostgreSQL: building
one and its cache key cost more than running it (50-400 µs), so a second batch must run the
very statements the first one built."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from smsvia.domain.consent import DECIDING, EXPRESS
from smsvia.store import consent, leases, outbox, webhooks
from smsvia.store.models import WebhookDelivery
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


async def one_batch(backend, shop, now: datetime) -> None:
    """What a worker batch does: claim (lock, save), read parts and messages, keep receipts
    tried, look for callbacks, lease callbacks, and the intake's consent look-up."""
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
        phones = store.cipher.indexes(["+14155550000"], "phone")
        await consent.standings(session, shop.principal.account_id, phones, DECIDING, EXPRESS)


def test_a_second_batch_runs_the_statements_the_first_one_built(backend):
    shop = backend.tenant()
    backend.run(queue(backend, shop, 4))
    now = datetime.now(UTC)
    with executed(backend.store) as first:
        backend.run(one_batch(backend, shop, now))
    with executed(backend.store) as second:
        backend.run(one_batch(backend, shop, now))
    assert len(first) == len(second) >= 10
    rebuilt = [s for s, t in zip(first, second, strict=True) if s is not t]
    assert not rebuilt, [str(s).split("\n")[0] for s in rebuilt]
