"""POST /v1/messages and GET /v1/messages/{sid}: validation errors name the field."""

from __future__ import annotations

import httpx
import pytest

TO = "+14155550100"


def post(server, shop, **body):
    return httpx.post(
        f"{server}/v1/messages",
        json={"to": TO, "from": shop.sender, **body},
        auth=(shop.sid, shop.token),
    )


def test_text_from_an_sms_only_sender_goes_as_plain_sms(server, backend):
    shop = backend.tenant()
    answer = post(server, shop, text="Your order shipped", category="transactional")
    assert answer.status_code == 201
    message = answer.json()
    assert (message["channel"], message["fallback_reason"]) == ("sms", None)
    assert message["category"] == "transactional"
    assert message["content"] == {"text": "Your order shipped"}
    assert [e["event"] for e in message["timeline"]] == ["queued"]
    fetched = httpx.get(f"{server}/v1/messages/{message['sid']}", auth=(shop.sid, shop.token))
    assert fetched.json()["sid"] == message["sid"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"carousel": [{"title": "A"}]}, "carousel"),
        (
            {"text": "a", "suggestions": [{"reply": {"text": "a label far too long to fit"}}]},
            "suggestions[0].reply.text",
        ),
        ({"text": "a", "fallback_after_seconds": 0}, "fallback_after_seconds"),
        ({"text": "a", "channel": "rcs"}, "channel"),
    ],
)
def test_refusals_are_400_naming_the_field(server, backend, body, field):
    answer = post(server, backend.tenant(), **body)
    assert answer.status_code == 400
    assert field in answer.json()["message"]


def test_malformed_request_is_400_with_twilio_error_body(server, backend):
    shop = backend.tenant()
    answer = httpx.post(
        f"{server}/v1/messages", json={"from": shop.sender}, auth=(shop.sid, shop.token)
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == 20001 and "to" in answer.json()["message"]


def test_another_accounts_message_is_404(server, backend):
    shop, other = backend.tenant(), backend.tenant("+15005550007")
    sid = post(server, shop, text="hi").json()["sid"]
    answer = httpx.get(f"{server}/v1/messages/{sid}", auth=(other.sid, other.token))
    assert answer.status_code == 404


def test_openapi_documents_the_native_send(server):
    schema = httpx.get(f"{server}/openapi.json").json()
    assert "/v1/messages" in schema["paths"]
    assert "rich_card" in schema["components"]["schemas"]["NewMessage"]["properties"]
