"""The Messages API through the real `twilio` package, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from smsvia.services import inbound, keys
from smsvia.services.delivery import Tracker
from smsvia.services.quote import load_price_book
from smsvia.store import senders as sender_queries

TO = "+14155550100"


def twilio_client(server: str, username: str, password: str, account_sid: str | None = None):
    client = Client(username, password, account_sid)
    client.api.base_url = server
    return client


def error_of(call) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as caught:
        call()
    return caught.value


def test_create_returns_a_queued_message_with_twilio_fields(server, backend):
    shop = backend.tenant()
    client = twilio_client(server, shop.sid, shop.token)
    message = client.messages.create(to=TO, from_=shop.sender, body="Your order has shipped")
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert message.to == TO
    assert message.from_ == shop.sender
    assert message.body == "Your order has shipped"
    assert message.num_segments == "1"
    assert message.num_media == "0"
    assert message.price == "-0.01500"
    assert message.price_unit == "USD"
    assert message.direction == "outbound-api"
    assert message.account_sid == shop.sid
    assert message.date_created.tzinfo is not None  # parsed from RFC 2822 by the SDK


def test_additive_fields_are_in_the_json(server, backend):
    shop = backend.tenant()
    response = httpx.post(
        f"{server}/2010-04-01/Accounts/{shop.sid}/Messages.json",
        auth=(shop.sid, shop.token),
        data={"To": TO, "From": shop.sender, "Body": "Ciao 😜 " + "a" * 70},
    )
    assert response.status_code == 201
    data = response.json()
    assert data["channel"] == "sms"
    assert data["encoding"] == "UCS-2"
    assert data["num_segments"] == "2"
    assert data["status_label"] == "Queued"
    assert data["fallback_reason"] is None
    assert data["uri"] == f"/2010-04-01/Accounts/{shop.sid}/Messages/{data['sid']}.json"
    assert data["date_created"].endswith("+0000")


def test_fetch_returns_the_same_message(server, backend):
    shop = backend.tenant()
    client = twilio_client(server, shop.sid, shop.token)
    created = client.messages.create(to=TO, from_=shop.sender, body="hello")
    fetched = client.messages(created.sid).fetch()
    assert (fetched.sid, fetched.body, fetched.status) == (created.sid, "hello", "queued")


def test_list_pages_through_every_message_newest_first(server, backend):
    shop = backend.tenant()
    client = twilio_client(server, shop.sid, shop.token)
    sids = [client.messages.create(to=TO, from_=shop.sender, body=f"m{i}").sid for i in range(7)]
    listed = client.messages.list(page_size=3)
    assert [m.sid for m in listed] == list(reversed(sids))
    first = client.messages.page(page_size=3)
    second = first.next_page()
    third = second.next_page()
    assert [len(list(page)) for page in (first, second, third)] == [3, 3, 1]
    assert third.next_page() is None


def test_list_filters_by_to_and_from(server, backend):
    shop = backend.tenant()
    client = twilio_client(server, shop.sid, shop.token)
    client.messages.create(to=TO, from_=shop.sender, body="one")
    client.messages.create(to="+14155550101", from_=shop.sender, body="two")
    assert [m.body for m in client.messages.list(to="+14155550101")] == ["two"]
    assert len(client.messages.list(from_=shop.sender)) == 2
    assert client.messages.list(from_="+15005550009") == []


def test_list_finds_an_inbound_message_by_the_customer_who_sent_it(server, backend):
    shop = backend.tenant()
    client = twilio_client(server, shop.sid, shop.token)
    client.messages.create(to=TO, from_=shop.sender, body="Your order shipped")
    backend.run(customer_texts(backend, shop, TO, "Where is it now?"))

    from_customer = client.messages.list(from_=TO)
    assert [(m.direction, m.from_, m.to, m.body) for m in from_customer] == [
        ("inbound", TO, shop.sender, "Where is it now?")
    ]
    to_customer = client.messages.list(to=TO)
    assert [(m.direction, m.body) for m in to_customer] == [("outbound-api", "Your order shipped")]
    to_us = client.messages.list(to=shop.sender)
    assert [m.body for m in to_us] == ["Where is it now?"]
    assert [m.body for m in client.messages.list(from_=shop.sender)] == ["Your order shipped"]


async def customer_texts(backend, shop, handset: str, text: str) -> None:
    """An SMS from the handset to the shop's number, as the SMSC would hand it over."""
    async with backend.store.db.transaction() as session:
        number = await sender_queries.number_by_phone(session, shop.sender)
        await inbound.receive(
            session,
            backend.store,
            Tracker(backend.store),
            load_price_book(),
            number=number,
            handset=handset,
            text=text,
            channel="sms",
            now=datetime.now(UTC),
        )


def test_list_filters_by_date_sent_exclude_unsent(server, backend):
    shop = backend.tenant()
    client = twilio_client(server, shop.sid, shop.token)
    client.messages.create(to=TO, from_=shop.sender, body="not sent yet")
    since = datetime.now(UTC) - timedelta(days=1)
    assert client.messages.list(date_sent_after=since) == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"to": "12", "body": "x"}, 21211),
        ({"to": TO}, 21602),
        ({"to": TO, "body": "a" * 1601}, 21617),
        ({"to": TO, "body": "x", "validity_period": 0}, 90007),
        ({"to": TO, "body": "x", "media_url": ["ftp://x/y.png"]}, 21620),
        ({"to": TO, "body": "x", "status_callback": "not a url"}, 21609),
        ({"to": "+8613800138000", "body": "x"}, 21408),
        ({"to": TO, "body": "x", "schedule_type": "fixed"}, 35111),
    ],
)
def test_invalid_requests_raise_twilio_errors(server, backend, params, code):
    shop = backend.tenant()
    client = twilio_client(server, shop.sid, shop.token)
    error = error_of(lambda: client.messages.create(from_=shop.sender, **params))
    assert (error.code, error.status) == (code, 400)


def test_sender_the_account_does_not_own_is_21606(server, backend):
    shop = backend.tenant()
    other = backend.tenant(sender="+15005550007")
    client = twilio_client(server, shop.sid, shop.token)
    error = error_of(lambda: client.messages.create(to=TO, from_=other.sender, body="x"))
    assert error.code == 21606


def test_wrong_token_is_401_with_20003(server, backend):
    shop = backend.tenant()
    client = twilio_client(server, shop.sid, "0" * 32)
    error = error_of(lambda: client.messages.create(to=TO, from_=shop.sender, body="x"))
    assert (error.code, error.status) == (20003, 401)
    # The SDK reports list failures its own way; the HTTP answer is the same.
    response = httpx.get(f"{server}/2010-04-01/Accounts/{shop.sid}/Messages.json")
    assert (response.status_code, response.json()["code"]) == (401, 20003)


def test_another_accounts_message_is_404_not_403(server, backend):
    shop = backend.tenant()
    other = backend.tenant(sender="+15005550007")
    mine = twilio_client(server, shop.sid, shop.token).messages.create(
        to=TO, from_=shop.sender, body="private"
    )
    theirs = twilio_client(server, other.sid, other.token)
    error = error_of(lambda: theirs.messages(mine.sid).fetch())
    assert (error.code, error.status) == (20404, 404)
    assert theirs.messages.list() == []
    # Their credentials on my account's URL: as if it did not exist.
    response = httpx.get(
        f"{server}/2010-04-01/Accounts/{shop.sid}/Messages.json", auth=(other.sid, other.token)
    )
    assert response.status_code == 404


def test_api_key_authenticates_for_its_account(server, backend):
    shop = backend.tenant()
    made = backend.run(keys.create_key(backend.store, shop.sid, "ci"))
    key = made.key
    client = twilio_client(server, key.sid, made.secret, shop.sid)
    assert client.messages.create(to=TO, from_=shop.sender, body="via key").status == "queued"
    bad = twilio_client(server, key.sid, "f" * 32, shop.sid)
    error = error_of(lambda: bad.messages.create(to=TO, from_=shop.sender, body="x"))
    assert error.code == 20003


def test_scheduled_message_can_be_canceled_then_deleted(server, backend):
    shop = backend.tenant()
    client = twilio_client(server, shop.sid, shop.token)
    message = client.messages.create(
        to=TO,
        from_=shop.sender,
        body="reminder",
        send_at=datetime.now(UTC) + timedelta(hours=1),
        schedule_type="fixed",
    )
    assert message.status == "scheduled"
    assert client.messages(message.sid).update(status="canceled").status == "canceled"
    assert client.messages(message.sid).delete() is True
    assert error_of(lambda: client.messages(message.sid).fetch()).code == 20404


def test_only_a_scheduled_message_can_be_canceled(server, backend):
    shop = backend.tenant()
    client = twilio_client(server, shop.sid, shop.token)
    message = client.messages.create(to=TO, from_=shop.sender, body="now")
    error = error_of(lambda: client.messages(message.sid).update(status="canceled"))
    assert error.status == 409


def test_send_at_in_the_past_is_35115(server, backend):
    shop = backend.tenant()
    client = twilio_client(server, shop.sid, shop.token)
    error = error_of(
        lambda: client.messages.create(
            to=TO,
            from_=shop.sender,
            body="late",
            send_at=datetime.now(UTC) - timedelta(minutes=1),
            schedule_type="fixed",
        )
    )
    assert error.code == 35115


def test_health(server):
    assert httpx.get(f"{server}/healthz").json()["status"] == "ok"
