"""Master key rotation: data sealed and indexed with the old key is found while the ring holds
both keys, is re-keyed online and resumably, and then needs only the new key."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from smsvia.dispatch.receipts import ReceiptProcessor
from smsvia.domain.consent import ConsentKind
from smsvia.domain.contacts import parse_contact
from smsvia.domain.errors import DomainError
from smsvia.domain.orders import NewOrder
from smsvia.services import consent, key_rotation, users
from smsvia.services.accounts import Authenticator
from smsvia.services.contacts import list_contacts, upsert_contact
from smsvia.services.delivery import Tracker
from smsvia.services.messages import SendRequest, send_message
from smsvia.services.orders import record_order
from smsvia.services.segments import count_audience
from smsvia.store import key_rotation as queries
from smsvia.store import tracking
from smsvia.store.crypto import MasterKeyError
from smsvia.store.marketing_models import Contact
from smsvia.store.models import Message
from smsvia.store.outbox import Handset
from smsvia.store.tracking_models import LinkPreview, Order, ShortLink
from tests.integration.conftest import Backend, Tenant
from tests.integration.scenario import BOOK, Scenario
from tests.integration.test_cli_connectors import smsvia

ADA, BOB, CY = "+14155550101", "+14155550102", "+14155550103"
EMAIL, PASSWORD = "owner@shop.example", "a long dashboard password"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def keyed(settings, *keys: str) -> Backend:
    return Backend(ring_settings(settings, *keys))


def ring_settings(settings, *keys: str):
    return settings.model_copy(update={"master_key": SecretStr(",".join(keys))})


async def fill(backend: Backend, shop) -> None:
    """A shop's data as the old key wrote it: contacts, a STOP, a user, a message with a
    short link, an order."""
    store = backend.store
    ada = parse_contact({"phone": ADA, "first_name": "Ada", "email": "ada@example.com"})
    ada = replace(ada, attributes={"size": "M"})
    async with store.db.transaction() as session:
        await upsert_contact(session, store, shop.account_id, ada, NOW)
        await upsert_contact(session, store, shop.account_id, parse_contact({"phone": BOB}), NOW)
        await consent.append(
            session,
            store,
            account_id=shop.account_id,
            phone=BOB,
            kind=ConsentKind.OPTED_OUT,
            source="keyword",
            evidence={"text": "STOP"},
            now=NOW,
        )
    await users.add_user(store, shop.sid, EMAIL, PASSWORD, "owner")
    sent = SendRequest(ADA, shop.sender, "New boots https://shop.example/b", shorten_urls=True)
    await send_message(store, shop.principal, sent, price_book=BOOK, public_url="http://x")
    await record_order(store, shop.principal, NewOrder("1001", Decimal("30"), "USD", None, ADA))


async def lookups_hold(backend: Backend, shop) -> None:
    """Everything found through a blind index is found."""
    store = backend.store
    with pytest.raises(DomainError) as stopped:
        await send_message(
            store, shop.principal, SendRequest(BOB, shop.sender, "Sale"), price_book=BOOK
        )
    assert stopped.value.code == 21610
    async with store.db.transaction() as session:
        _, created = await upsert_contact(
            session, store, shop.account_id, parse_contact({"phone": ADA}), NOW
        )
    assert not created
    for field, value in (("first_name", "ada"), ("email", "ada@example.com")):
        condition = {"field": field, "op": "eq", "value": value}
        assert await count_audience(store, shop.principal, "all", [condition]) == 1
    size = {"field": "attributes.size", "op": "eq", "value": "m"}
    assert await count_audience(store, shop.principal, "all", [size]) == 1
    page = await list_contacts(store, shop.principal, phone=ADA)
    assert len(page.contacts) == 1
    assert await users.sign_in_user(store, EMAIL, PASSWORD, None)
    assert await Authenticator(store).authenticate(shop.sid, shop.token)
    checked, breaks = await consent.verify(store)
    assert checked == 1 and breaks == []


def filled_under_the_old_key(settings) -> tuple[str, str, Tenant]:
    """(old key, new key, shop) once `fill` has written the shop's data with the old key."""
    old = settings.master_key.get_secret_value()
    before = keyed(settings, old)
    try:
        shop = before.tenant()
        before.run(fill(before, shop))
    finally:
        before.close()
    return old, new_key(), shop


def test_a_rotation_keeps_every_look_up_and_ends_under_the_new_key(settings):
    old, new, shop = filled_under_the_old_key(settings)
    ring = keyed(settings, new, old)
    try:
        ring.run(lookups_hold(ring, shop))  # nothing re-keyed yet: found under the old key
        report = ring.run(key_rotation.rotate(ring.store, batch=2))
        assert report.done
        rewritten = {t.table: t.rewritten for t in report.tables}
        assert rewritten["contacts"] >= 2 and rewritten["messages"] >= 1
        assert rewritten["consent_events"] == 1 and rewritten["users"] == 1
        assert rewritten["accounts"] == 1 and rewritten["connectors"] == 1
        again = ring.run(key_rotation.rotate(ring.store))
        assert again.done and all(t.rewritten == 0 for t in again.tables)
    finally:
        ring.close()

    after = keyed(settings, new)
    try:
        after.run(lookups_hold(after, shop))
        assert all(t.left == 0 for t in after.run(key_rotation.remaining(after.store)))
        index = after.store.cipher.blind_index
        order = after.run(_one(after, select(Order)))
        assert order.phone_index == index(ADA, "phone")
        message = after.run(_one(after, select(Message)))
        assert message.recipient_index == index(ADA, "phone")
        assert after.store.cipher.open(message.body, "message.body").startswith("New boots")
        link = after.run(_one(after, select(ShortLink)))
        assert link.url_index == index("https://shop.example/b", "link.url")
    finally:
        after.close()

    gone = keyed(settings, old)
    try:
        contact = gone.run(_one(gone, select(Contact).where(Contact.phone.is_not(None))))
        with pytest.raises(MasterKeyError):
            gone.store.cipher.open(contact.phone, "contact.phone")
    finally:
        gone.close()


def test_a_concurrent_change_wins_over_the_rotation(settings):
    old, new, shop = filled_under_the_old_key(settings)
    ring = keyed(settings, new, old)
    try:
        table = Contact.__table__
        sealed = ["phone", "email", "first_name", "last_name", "attributes"]

        async def read_change_then_rewrite():
            prefix = ring.store.cipher.current_prefix
            async with ring.store.db.sessions() as session:
                rows = await queries.stale_rows(session, table, sealed, (), prefix, 0, 10)
            ada = next(
                r for r in rows if ring.store.cipher.open(r["phone"], "contact.phone") == ADA
            )
            renamed = parse_contact({"phone": ADA, "first_name": "Adele"})
            async with ring.store.db.transaction() as session:
                await upsert_contact(session, ring.store, shop.account_id, renamed, NOW)
            stale = {f"old_{name}": ada[name] for name in sealed}
            update = {"row_id": ada["id"], **stale, "new_first_name": ring.store.cipher.seal("Ada")}
            async with ring.store.db.transaction() as session:
                await queries.rewrite(session, table, sealed, [update])
            async with ring.store.db.sessions() as session:
                row = await session.get(Contact, ada["id"])
            return ring.store.cipher.open(row.first_name, "contact.first_name")

        assert ring.run(read_change_then_rewrite()) == "Adele"
    finally:
        ring.close()


def test_the_command_rotates_resumes_and_says_when_the_old_key_may_go(backend, settings):
    shop = backend.tenant()
    backend.run(fill(backend, shop))
    old, new = settings.master_key.get_secret_value(), new_key()
    one = smsvia(settings, "keys", "rotate-master")
    assert one.returncode != 0 and "holds one key" in one.stderr
    assert "Traceback" not in one.stderr
    made = smsvia(settings, "keys", "rotate-master", "--new-key")
    assert made.returncode == 0 and len(base64.b64decode(made.stdout.strip())) == 32
    ring = ring_settings(settings, new, old)
    checked = smsvia(ring, "keys", "rotate-master", "--check", "--json")
    assert checked.returncode == 1 and json.loads(checked.stdout)["tables"]["contacts"]["left"] == 2
    done = smsvia(ring, "keys", "rotate-master")
    assert done.returncode == 0, done.stderr
    assert "the older keys may now leave SMSVIA_MASTER_KEY" in done.stdout
    checked = smsvia(ring, "keys", "rotate-master", "--check", "--json")
    assert checked.returncode == 0 and json.loads(checked.stdout)["done"] is True
    audited = smsvia(ring, "audit", "export", "--format", "json")
    actions = [json.loads(line)["action"] for line in audited.stdout.splitlines()]
    assert actions.count("keys.rotate_master") == 1  # the run that changed something


async def _one(backend: Backend, query):
    async with backend.store.db.sessions() as session:
        return (await session.scalars(query)).first()


def test_messages_sealed_with_the_old_key_are_sent_and_settled_during_a_rotation(settings):
    old, new = settings.master_key.get_secret_value(), new_key()
    before = keyed(settings, old)
    ring = keyed(settings, new, old)

    async def send_both_and_wait():
        async with Scenario(ring) as sc:
            request = SendRequest(ADA, sc.shop.sender, "Sealed with the old key")
            sent_before = await asyncio.to_thread(
                before.run, send_message(before.store, sc.shop.principal, request, price_book=BOOK)
            )
            sent_after = await sc.send(BOB, "Sealed with the new key")
            return [await sc.wait_for(sent.sid, "delivered") for sent in (sent_before, sent_after)]

    try:
        done = ring.run(send_both_and_wait())
        assert [view.status for view in done] == ["delivered", "delivered"]
        assert [event.event for event in done[0].timeline].count("delivered") == 1
    finally:
        ring.close()
        before.close()


def test_a_receipt_names_its_handset_under_either_key(settings):
    old, new = settings.master_key.get_secret_value(), new_key()
    before, ring = keyed(settings, old), keyed(settings, new, old)
    try:
        sealed = before.store.cipher.seal(ADA, "message.to")
        handset = Handset(before.store.cipher.blind_index(ADA, "phone"), sealed)
        matcher = ReceiptProcessor(ring.store, Tracker(ring.store), {})
        assert matcher._same_handset(ring.store.cipher.blind_index(ADA, "phone"), handset)
        assert matcher._same_handset(ring.store.cipher.blind_index(BOB, "phone"), handset) is False
        assert matcher._same_handset("", handset) is None
    finally:
        ring.close()
        before.close()


def test_kept_link_previews_follow_their_links_to_the_new_key(settings):
    old, new = settings.master_key.get_secret_value(), new_key()
    before = keyed(settings, old)
    shop = before.tenant()
    before.run(fill(before, shop))  # its message has a short link to https://shop.example/b
    url, other = "https://shop.example/b", "https://shop.example/c"

    async def keep(backend, link: str, title: str) -> None:
        async with backend.store.db.transaction() as session:
            await tracking.keep_preview(
                session,
                {
                    "account_id": shop.account_id,
                    "url_index": backend.store.cipher.blind_index(link, "link.url"),
                    "title": title,
                    "fetched_at": NOW,
                },
            )

    before.run(keep(before, url, "Boots"))
    before.close()
    ring = keyed(settings, new, old)
    try:
        ring.run(keep(ring, url, "Boots, fetched again"))  # both kept: the rotation picks one
        ring.run(keep(ring, other, "Coats"))
        assert ring.run(key_rotation.rotate(ring.store)).done
    finally:
        ring.close()
    after = keyed(settings, new)

    async def kept(link: str):
        index = after.store.cipher.indexes([link], "link.url").all
        async with after.store.db.sessions() as session:
            found = await tracking.preview_of(session, shop.account_id, index)
            count = await session.scalar(select(func.count()).select_from(LinkPreview))
        return (found.title if found else None), count

    try:
        assert after.run(kept(url)) == ("Boots, fetched again", 2)
        assert after.run(kept(other)) == ("Coats", 2)
    finally:
        after.close()
