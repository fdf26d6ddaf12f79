"""Status callbacks reach a real HTTP receiver, signed so Twilio's own validator accepts them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from smsvia.services.clock import utcnow
from smsvia.services.keys import rotate_token
from smsvia.services.message_views import cancel_message
from smsvia.store.models import WebhookAttempt, WebhookDelivery
from tests.integration.conftest import CallbackReceiver
from tests.integration.scenario import QUICK_RETRIES, Scenario


async def _until(condition, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _settled_attempts(backend, count: int) -> tuple[list, list]:
    """The callbacks and their attempts, once `count` attempts are recorded (or 15 s on)."""
    deadline = time.monotonic() + 15
    while True:
        async with backend.store.db.sessions() as session:
            # Attempts first: a delivery's outcome commits with its attempt.
            attempts = (
                await session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id))
            ).all()
            deliveries = (await session.scalars(select(WebhookDelivery))).all()
        if len(attempts) >= count or time.monotonic() > deadline:
            return deliveries, attempts
        await asyncio.sleep(0.05)


def _by_status(callbacks) -> list[dict[str, str]]:
    return sorted((c.params for c in callbacks), key=lambda params: params["MessageStatus"])


def test_callbacks_are_signed_as_twilio_signs_them(backend, callback_receiver):
    async def scenario():
        async with Scenario(backend) as run:
            url = f"{callback_receiver.url}/twilio/status?shop=7&lang=en"
            delivered = await run.send("+14155550100", status_callback=url)
            undelivered = await run.send("+14155559999", status_callback=url)
            await run.wait_for(delivered.sid, "delivered")
            await run.wait_for(undelivered.sid, "undelivered")
            await _until(lambda: len(callback_receiver.received) == 4, what="4 callbacks")

            validator = RequestValidator(run.shop.token)
            impostor = RequestValidator("0" * 32)
            for callback in callback_receiver.received:
                assert callback.url == url
                assert validator.validate(callback.url, callback.params, callback.signature)
                assert not impostor.validate(callback.url, callback.params, callback.signature)

            by_sid = {}
            for callback in callback_receiver.received:
                by_sid.setdefault(callback.params["MessageSid"], []).append(callback.params)
            statuses = {sid: {p["MessageStatus"] for p in got} for sid, got in by_sid.items()}
            assert statuses == {
                delivered.sid: {"sent", "delivered"},
                undelivered.sid: {"sent", "undelivered"},
            }
            final = next(p for p in by_sid[undelivered.sid] if p["MessageStatus"] == "undelivered")
            assert final["ErrorCode"] == "30003"
            assert final["SmsSid"] == undelivered.sid
            assert final["SmsStatus"] == "undelivered"
            assert final["AccountSid"] == run.shop.sid
            assert final["From"] == run.shop.sender
            assert final["To"] == "+14155559999"
            assert final["ApiVersion"] == "2010-04-01"
            assert final["Channel"] == "sms"
            assert final["FallbackReason"] == ""

    backend.run(scenario())


def test_failing_receiver_is_retried_with_every_attempt_recorded(backend, callback_receiver):
    async def scenario():
        callback_receiver.failures = 3
        async with Scenario(backend) as run:
            created = await run.send("+14155550100", status_callback=callback_receiver.url)
            await run.wait_for(created.sid, "delivered")
            await _until(lambda: len(callback_receiver.received) == 5, what="5 requests")
            # The last answer reaches the receiver a moment before it is recorded.
            deliveries, attempts = await _settled_attempts(backend, 5)
            # Both callbacks (sent, delivered) got through in the end, after 3 refusals.
            assert sorted(d.status for d in deliveries) == ["succeeded", "succeeded"]
            assert sum(d.attempts for d in deliveries) == 5
            assert sorted(a.response_status for a in attempts) == [200, 200, 500, 500, 500]
            assert all(a.error == "HTTP 500" for a in attempts if a.response_status == 500)
            assert all(a.duration_ms >= 0 for a in attempts)

    backend.run(scenario())


def test_an_answer_that_never_ends_settles_its_callback_at_the_first_attempt(backend):
    """Only the status counts: a body without end is neither awaited nor kept in memory, so
    the 200 before it is the callback's success, not a timeout that posts it again."""
    receiver = CallbackReceiver(endless_answer=True)

    async def scenario():
        async with Scenario(backend) as run:
            created = await run.send("+14155550100", status_callback=f"{receiver.url}/status")
            await run.wait_for(created.sid, "delivered")
            deliveries, attempts = await _settled_attempts(backend, 2)
            assert [(d.status, d.attempts) for d in deliveries] == [("succeeded", 1)] * 2
            assert [(a.response_status, a.error) for a in attempts] == [(200, None)] * 2
            assert len(receiver.received) == 2

    try:
        backend.run(scenario())
    finally:
        receiver.close()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_followed_with_the_form_signed_for_where_it_leads(
    backend, callback_receiver, status
):
    """As Twilio follows them: the same form to the Location, signed for that URL (the one
    its receiver validates against); the answer there is the callback's outcome."""
    callback_receiver.redirects = {"/old": (status, "/new?shop=7")}

    async def scenario():
        async with Scenario(backend) as run:
            created = await run.send("+14155550100", status_callback=f"{callback_receiver.url}/old")
            await run.wait_for(created.sid, "delivered")
            deliveries, attempts = await _settled_attempts(backend, 2)
            validator = RequestValidator(run.shop.token)
            for callback in [*callback_receiver.redirected, *callback_receiver.received]:
                assert validator.validate(callback.url, callback.params, callback.signature)
            moved = callback_receiver.received
            assert [c.url for c in moved] == [f"{callback_receiver.url}/new?shop=7"] * 2
            # `sent` and `delivered` travel at once: each hop may see them in either order.
            assert _by_status(moved) == _by_status(callback_receiver.redirected)
            assert {c.params["MessageStatus"] for c in moved} == {"sent", "delivered"}
            assert [(d.status, d.attempts) for d in deliveries] == [("succeeded", 1)] * 2
            assert [(a.response_status, a.error) for a in attempts] == [(200, None)] * 2

    backend.run(scenario())


def test_a_see_other_is_a_get_of_where_it_leads(backend, callback_receiver):
    """303: the form was taken and the answer is elsewhere; it is fetched, not posted again."""
    callback_receiver.redirects = {"/form": (303, "/thanks")}

    async def scenario():
        async with Scenario(backend) as run:
            created = await run.send(
                "+14155550100", status_callback=f"{callback_receiver.url}/form"
            )
            await run.wait_for(created.sid, "delivered")
            deliveries, attempts = await _settled_attempts(backend, 2)
            assert len(callback_receiver.redirected) == 2
            assert callback_receiver.received == []
            assert [c.url for c in callback_receiver.got] == [f"{callback_receiver.url}/thanks"] * 2
            assert [(d.status, d.attempts) for d in deliveries] == [("succeeded", 1)] * 2
            assert [(a.response_status, a.error) for a in attempts] == [(200, None)] * 2

    backend.run(scenario())


@pytest.mark.parametrize(
    ("redirect", "hops", "error"),
    [
        ((302, "/status"), 6, "HTTP 302: more than 5 redirects"),
        ((302, None), 1, "HTTP 302 without a Location"),
        ((301, "ftp://files.example.com/status"), 1, "not an http(s) URL"),
    ],
)
def test_a_redirect_that_leads_nowhere_is_a_failed_attempt_that_says_why(
    backend, callback_receiver, redirect, hops, error
):
    callback_receiver.redirects = {"/status": redirect}

    async def scenario():
        config = replace(QUICK_RETRIES, max_attempts=1)
        async with Scenario(backend, webhook_config=config) as run:
            url = f"{callback_receiver.url}/status"
            created = await run.send("+14155559997", status_callback=url)  # no receipt
            await run.wait_for(created.sid, "sent")
            deliveries, attempts = await _settled_attempts(backend, 1)
            assert [(d.status, d.attempts) for d in deliveries] == [("failed", 1)]
            assert [a.response_status for a in attempts] == [redirect[0]]
            assert error in attempts[0].error, attempts[0].error
            assert len(callback_receiver.redirected) == hops
            assert callback_receiver.received == []

    backend.run(scenario())


def test_unreachable_receiver_is_retried_then_abandoned(backend):
    async def scenario():
        config = replace(QUICK_RETRIES, max_attempts=3)
        async with Scenario(backend, webhook_config=config) as run:
            closed_port = "http://127.0.0.1:9/status"  # discard port: nothing listens
            created = await run.send("+14155559997", status_callback=closed_port)
            await run.wait_for(created.sid, "sent")

            async def abandoned():
                async with backend.store.db.sessions() as session:
                    return (await session.scalars(select(WebhookDelivery))).all()

            deadline = time.monotonic() + 15
            while (d := await abandoned()) == [] or d[0].status != "failed":
                assert time.monotonic() < deadline, d
                await asyncio.sleep(0.1)
            async with backend.store.db.sessions() as session:
                attempts = (await session.scalars(select(WebhookAttempt))).all()
            assert len(attempts) == 3
            assert all(a.response_status is None and "ConnectError" in a.error for a in attempts)

    backend.run(scenario())


def test_slow_receiver_never_slows_sending(backend, callback_receiver):
    async def scenario():
        callback_receiver.hold.clear()  # the receiver accepts connections but never answers
        async with Scenario(backend) as run:
            sids = [
                (await run.send(f"+1415555{i:04d}", status_callback=callback_receiver.url)).sid
                for i in range(10)
            ]
            for sid in sids:
                await run.wait_for(sid, "delivered")
            # Every message was delivered while its callbacks were still stuck at the receiver.
            assert callback_receiver.waiting >= 1
            assert callback_receiver.received == []
            callback_receiver.hold.set()
            await _until(lambda: len(callback_receiver.received) >= 20, what="20 callbacks")
            delivered = {
                c.params["MessageSid"]
                for c in callback_receiver.received
                if c.params["MessageStatus"] == "delivered"
            }
            assert delivered == set(sids)

    backend.run(scenario())


def test_canceling_a_scheduled_message_calls_back_canceled(backend, callback_receiver):
    async def scenario():
        async with Scenario(backend) as run:
            created = await run.send(
                "+14155550100",
                status_callback=callback_receiver.url,
                send_at=utcnow() + timedelta(hours=1),
                schedule_type="fixed",
            )
            view = await cancel_message(backend.store, run.shop.principal, created.sid)
            assert view.status == "canceled"
            await _until(lambda: len(callback_receiver.received) == 1, what="a callback")
            (callback,) = callback_receiver.received
            assert callback.params["MessageStatus"] == "canceled"
            assert RequestValidator(run.shop.token).validate(
                callback.url, callback.params, callback.signature
            )
            assert run.sim.accepted == []

    backend.run(scenario())


def test_callbacks_after_a_token_rotation_are_signed_with_the_new_token(backend, callback_receiver):
    async def scenario():
        async with Scenario(backend) as run:
            before = await run.send("+14155550100", status_callback=callback_receiver.url)
            await run.wait_for(before.sid, "delivered")
            await _until(lambda: len(callback_receiver.received) == 2, what="2 callbacks")
            rotated = await rotate_token(backend.store, run.shop.sid)
            after = await run.send("+14155550101", status_callback=callback_receiver.url)
            await run.wait_for(after.sid, "delivered")
            await _until(lambda: len(callback_receiver.received) == 4, what="4 callbacks")
            old, new = RequestValidator(run.shop.token), RequestValidator(rotated.secret)
            for callback in callback_receiver.received:
                signed_with_new = callback.params["MessageSid"] == after.sid
                assert new.validate(callback.url, callback.params, callback.signature) is (
                    signed_with_new
                )
                assert old.validate(callback.url, callback.params, callback.signature) is (
                    not signed_with_new
                )

    backend.run(scenario())


@pytest.mark.parametrize(("idle_timeout", "reused"), [(0.3, False), (5.0, True)])
def test_a_connection_idle_past_the_idle_timeout_is_not_used_again(backend, idle_timeout, reused):
    """So a post never goes out on a connection the receiver is closing as idle."""
    receiver = CallbackReceiver(keep_alive=True)

    async def scenario():
        config = replace(QUICK_RETRIES, idle_timeout=idle_timeout)
        async with Scenario(backend, webhook_config=config) as run:
            url = f"{receiver.url}/status"
            first = await run.send("+14155550100", status_callback=url)
            await run.wait_for(first.sid, "delivered")
            await _until(lambda: len(receiver.received) == 2, what="2 callbacks")
            opened = receiver.connections
            await asyncio.sleep(1.0)
            second = await run.send("+14155550101", status_callback=url)
            await run.wait_for(second.sid, "delivered")
            await _until(lambda: len(receiver.received) == 4, what="4 callbacks")
            return opened, receiver.connections

    try:
        opened, in_all = backend.run(scenario())
    finally:
        receiver.close()
    assert (in_all == opened) == reused, (opened, in_all)
