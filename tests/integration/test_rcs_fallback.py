"""RCS first, SMS as the fallback, through the whole server against both simulators."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from smsvia.services.accounts import AccountSettings, update_settings
from smsvia.sim.rbm import RbmBehaviour
from tests.integration.rcs_stack import RcsStack

CAPABLE, NOT_CAPABLE, BROKEN, OFFLINE = (
    "+14155550102",
    "+14155550103",
    "+14155550155",
    "+14155550177",
)
CARD = {
    "rich_card": {
        "title": "Trail boots",
        "description": "Back in stock",
        "media_url": "https://shop.example/boots.jpg",
        "suggestions": [{"open_url": {"text": "Buy now", "url": "https://shop.example/p/1"}}],
    }
}


@pytest.fixture
def stack(backend, settings):
    stack = RcsStack(backend, settings)
    yield stack
    stack.close()


def digits(number: str) -> str:
    return number.lstrip("+")


def events(message: dict) -> list[str]:
    return [entry["event"] for entry in message["timeline"]]


def test_capable_phone_gets_rcs_delivered_then_read(stack):
    sent = stack.send(CAPABLE, **CARD)
    assert sent["channel"] == "rcs" and sent["status"] == "queued"
    assert sent["price"] == "-0.03000"  # RCS single message: 2 x the US SMS price
    done = read_and_recorded(stack, sent["sid"])
    assert done["channel"] == "rcs" and done["fallback_reason"] is None
    assert done["status_label"] == "Read (RCS)"
    # RBM's DELIVERED may be applied before the worker records RBM's answer to the send.
    assert events(done) in (
        ["queued", "sending", "capability", "sent", "delivered", "read"],
        ["queued", "sending", "delivered", "read", "capability", "rcs_accepted"],
    )
    assert [m.message_id for m in stack.rbm.sim.records.delivered] == [sent["sid"]]
    assert stack.smsc_destinations() == []


def read_and_recorded(stack, sid: str) -> dict:
    """The message once it is read and the worker has recorded its send, in either order."""
    stack.wait_for(sid, event="capability")
    return stack.wait_for(sid, "read")


def test_delivered_before_rbm_answers_the_send_keeps_the_whole_timeline(backend, settings):
    behaviour = RbmBehaviour(delivered_after=0.0, read_after=0.3, answer_after=3.0)
    stack = RcsStack(backend, settings, rbm=behaviour)
    try:
        sent = stack.send(CAPABLE, text="Your order is on its way")
        done = read_and_recorded(stack, sent["sid"])
        assert done["status"] == "read" and done["channel"] == "rcs"
        assert events(done) == [
            "queued",
            "sending",
            "delivered",
            "read",
            "capability",
            "rcs_accepted",
        ]
        assert stack.rbm.sim.records.sends == 1
        assert stack.smsc_destinations() == []
    finally:
        stack.close()


def test_not_capable_phone_gets_the_sms_rendering(stack):
    sent = stack.send(NOT_CAPABLE, **CARD)
    done = stack.wait_for(sent["sid"], "delivered")
    assert done["channel"] == "sms"
    assert done["fallback_reason"] == "not_rcs_capable"
    assert done["status_label"] == "Sent as SMS via server"
    assert "capability" in events(done)
    assert done["price"] == "-0.01500"  # the SMS: one segment
    assert stack.smsc_destinations() == [digits(NOT_CAPABLE)]
    assert stack.rbm.sim.records.delivered == []
    body = done["body"]
    assert body.startswith("Trail boots\nBack in stock\nhttp://127.0.0.1:8080/m/")
    assert body.endswith("Buy now: https://shop.example/p/1")
    # The link in the SMS opens a page whose Open Graph tags show the picture.
    token = body.split("/m/", 1)[1].split("\n", 1)[0]
    page = httpx.get(f"{stack.url}/m/{token}")
    assert page.status_code == 200
    assert '<meta property="og:image" content="https://shop.example/boots.jpg">' in page.text
    assert '<meta property="og:title" content="Trail boots">' in page.text
    assert 'href="https://shop.example/p/1">Buy now</a>' in page.text
    assert httpx.get(f"{stack.url}/m/nosuchtoken").status_code == 404


def test_rbm_error_falls_back_with_rcs_error(stack):
    done = stack.wait_for(stack.send(BROKEN, text="Order shipped")["sid"], "delivered")
    assert done["fallback_reason"] == "rcs_error"
    assert "rcs_error" in events(done)
    assert stack.smsc_destinations() == [digits(BROKEN)]


def test_undelivered_in_time_is_revoked_then_sent_as_sms(stack):
    sent = stack.send(OFFLINE, text="Order shipped", fallback_after_seconds=1)
    done = stack.wait_for(sent["sid"], "delivered")
    assert done["fallback_reason"] == "rcs_not_delivered_in_time"
    assert done["status_label"] == "Sent as SMS via server"
    timeline = events(done)
    assert timeline.index("sent") < timeline.index("revoked") < timeline.index("delivered")
    assert [m.message_id for m in stack.rbm.sim.records.revoked] == [sent["sid"]]
    assert stack.smsc_destinations() == [digits(OFFLINE)]
    assert done["price"] == "-0.01500"  # what went out: one SMS segment, not RCS too


def test_revoke_racing_a_late_delivery_sends_exactly_one(backend, settings):
    # Delivery lands right at the end of the fallback window: either the revoke wins (SMS)
    # or the delivery does (RCS), never both and never neither.
    stack = RcsStack(backend, settings, rbm=RbmBehaviour(delivered_after=1.0, read_after=5))
    try:
        numbers = [f"+1415555{i:04d}" for i in range(10, 30, 2)]  # even: capable
        sids = [stack.send(n, text="Flash sale", fallback_after_seconds=1)["sid"] for n in numbers]
        finals = [stack.wait_for(sid, "delivered", "read") for sid in sids]
        by_rcs = {m.message_id for m in stack.rbm.sim.records.delivered}
        by_sms = set(stack.smsc_destinations())
        for number, message in zip(numbers, finals, strict=True):
            reached = (message["sid"] in by_rcs) + (digits(number) in by_sms)
            assert reached == 1, message["timeline"]
            assert message["channel"] == ("rcs" if message["sid"] in by_rcs else "sms")
    finally:
        stack.close()


def test_silent_rbm_never_leads_to_a_blind_sms(backend, settings):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        stack = RcsStack(backend, settings, rbm_url=url, rbm_timeout=0.3)
        try:
            sid = stack.send(CAPABLE, text="Order shipped", fallback_after_seconds=1)["sid"]
            # The send is never answered, then neither is the revoke at the window's end.
            message = stack.wait_for(sid, event="revoke_failed")
        finally:
            stack.close()
    assert message["status"] == "sending"
    assert events(message).index("rcs_unconfirmed") < events(message).index("revoke_failed")
    assert stack.smsc_destinations() == []


def test_unreachable_rbm_falls_back_to_sms_at_once(backend, settings):
    # Nothing listens: RBM never had the message, so the SMS need not wait for the window.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        stack = RcsStack(backend, settings, rbm_url=url, rbm_timeout=0.3)
        try:
            sid = stack.send(CAPABLE, text="Order shipped", fallback_after_seconds=600)["sid"]
            done = stack.wait_for(sid, "delivered")
        finally:
            stack.close()
    assert done["fallback_reason"] == "rcs_error"
    assert done["status_label"] == "Sent as SMS via server"
    assert "rcs_unconfirmed" not in events(done)
    assert stack.smsc_destinations() == [digits(CAPABLE)]


def test_callbacks_say_the_channel_and_why_it_fell_back(backend, settings, callback_receiver):
    stack = RcsStack(backend, settings)
    try:
        url = callback_receiver.url + "/status"
        sid = stack.send(NOT_CAPABLE, text="Order shipped", status_callback=url)["sid"]
        stack.wait_for(sid, "delivered")
        deadline = time.monotonic() + 10
        while len(callback_receiver.received) < 2:
            assert time.monotonic() < deadline, callback_receiver.received
            time.sleep(0.05)
    finally:
        stack.close()
    by_status = {c.params["MessageStatus"]: c.params for c in callback_receiver.received}
    assert by_status["delivered"]["Channel"] == "sms"
    assert by_status["delivered"]["FallbackReason"] == "not_rcs_capable"


def test_the_accounts_window_applies_when_the_message_names_none(stack, backend):
    backend.run(
        update_settings(backend.store, stack.shop.sid, AccountSettings(rcs_fallback_seconds=1))
    )
    sent = stack.send(OFFLINE, text="Order shipped")
    assert "within 1 s" in sent["timeline"][0]["detail"]
    done = stack.wait_for(sent["sid"], "delivered")
    assert done["fallback_reason"] == "rcs_not_delivered_in_time"
