"""The RBM events webhook: handshake, signatures, duplicates, user replies; and the Twilio SDK
still reading RCS-first messages."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from smsvia.domain.signature import rbm_signature
from smsvia.services import senders
from smsvia.store.models import RcsEvent
from tests.integration.rcs_stack import CLIENT_TOKEN, RcsStack

CAPABLE = "+14155550102"


@pytest.fixture
def webhook(server, backend):
    settings = senders.RcsSettings("http://127.0.0.1:9", "agent")
    backend.run(senders.add_rcs_connector(backend.store, "rbm", settings, CLIENT_TOKEN))
    return f"{server}/rcs/rbm/events"


def push(event: dict, token: str = CLIENT_TOKEN) -> tuple[dict, dict]:
    data = json.dumps(event).encode()
    body = {"message": {"data": base64.b64encode(data).decode(), "messageId": "p1"}}
    return body, {"X-Goog-Signature": rbm_signature(token, data)}


def stored_events(backend) -> int:
    async def count():
        async with backend.store.db.sessions() as session:
            return await session.scalar(select(func.count()).select_from(RcsEvent))

    return backend.run(count())


DELIVERED = {"eventType": "DELIVERED", "eventId": "E1", "messageId": "SMx", "agentId": "a"}


def test_handshake_echoes_the_secret_when_the_token_matches(webhook):
    ok = httpx.post(webhook, json={"clientToken": CLIENT_TOKEN, "secret": "s3cr3t"})
    assert ok.status_code == 200 and ok.text == "s3cr3t"
    wrong = httpx.post(webhook, json={"clientToken": "guess", "secret": "s3cr3t"})
    assert wrong.status_code == 401 and "s3cr3t" not in wrong.text


def test_event_with_a_wrong_signature_is_401_and_not_kept(webhook, backend):
    body, _ = push(DELIVERED)
    _, forged = push(DELIVERED, token="someone-else")
    assert httpx.post(webhook, json=body, headers=forged).status_code == 401
    assert httpx.post(webhook, json=body).status_code == 401  # no signature at all
    assert stored_events(backend) == 0


def test_a_repeated_event_is_kept_once(webhook, backend):
    body, headers = push(DELIVERED)
    first = httpx.post(webhook, json=body, headers=headers)
    again = httpx.post(webhook, json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert stored_events(backend) == 1


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"message": {"data": "%%%"}}', b'{"message": "x"}'],
)
def test_garbage_is_400(webhook, body):
    answer = httpx.post(webhook, content=body, headers={"X-Goog-Signature": "x"})
    assert answer.status_code == 400
    assert answer.json()["code"] == 21100


def test_unknown_connector_is_404(server):
    body, headers = push(DELIVERED)
    assert httpx.post(f"{server}/rcs/nope/events", json=body, headers=headers).status_code == 404


def test_user_reply_is_stored_and_forwarded_signed_like_inbound_sms(
    backend, settings, callback_receiver
):
    stack = RcsStack(backend, settings, sms_url=callback_receiver.url + "/sms")
    try:
        stack.rbm.call(stack.rbm.sim.user_says(CAPABLE, "Yes please", postback_data="buy-1"))
        deadline = time.monotonic() + 15
        while not callback_receiver.received:
            assert time.monotonic() < deadline, "the reply was not forwarded"
            time.sleep(0.05)
        forwarded = callback_receiver.received[0]
        client = Client(stack.shop.sid, stack.shop.token)
        client.api.base_url = stack.url
        inbound = client.messages(forwarded.params["MessageSid"]).fetch()
    finally:
        stack.close()
    assert RequestValidator(stack.shop.token).validate(
        forwarded.url, forwarded.params, forwarded.signature
    )
    assert forwarded.params["From"] == CAPABLE and forwarded.params["To"] == stack.shop.sender
    assert forwarded.params["Body"] == "Yes please"
    assert forwarded.params["ButtonPayload"] == "buy-1"
    assert (inbound.direction, inbound.status, inbound.from_, inbound.to) == (
        "inbound",
        "received",
        CAPABLE,
        stack.shop.sender,
    )


def test_twilio_sdk_sends_rcs_first_and_reads_valid_resources(backend, settings):
    stack = RcsStack(backend, settings)
    try:
        client = Client(stack.shop.sid, stack.shop.token)
        client.api.base_url = stack.url
        created = client.messages.create(
            to=CAPABLE,
            from_=stack.shop.sender,
            body="Your order shipped",
            media_url=["https://shop.example/box.jpg"],
        )
        done = stack.wait_for(created.sid, "read")
        fetched = client.messages(created.sid).fetch()
        listed = client.messages.list(limit=5)
    finally:
        stack.close()
    assert created.status == "queued" and fetched.status == "read"
    assert fetched.price == "-0.03000" and fetched.price_unit == "USD"
    assert [m.sid for m in listed] == [created.sid]
    assert done["channel"] == "rcs"
    card = stack.rbm.sim.records.delivered[0].content["richCard"]["standaloneCard"]
    assert card["cardContent"]["description"] == "Your order shipped"


def test_stop_as_an_rcs_reply_unsubscribes_too(backend, settings):
    stack = RcsStack(backend, settings)
    try:
        stack.rbm.call(stack.rbm.sim.user_says(CAPABLE, "STOP"))
        deadline = time.monotonic() + 15
        while True:
            answer = stack.http.post(
                "/v1/messages", json={"to": CAPABLE, "from": stack.shop.sender, "text": "Sale"}
            )
            if answer.status_code == 400:
                break
            assert time.monotonic() < deadline, "STOP was not applied"
            time.sleep(0.1)
    finally:
        stack.close()
    assert answer.json()["code"] == 21610
