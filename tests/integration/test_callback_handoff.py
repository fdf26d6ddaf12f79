"""Callbacks handed from memory to the poster as their status commits, and what a crash
between the commit and the post leaves: a claim that another poster takes over."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from smsvia.domain.status import Status
from smsvia.services.clock import utcnow
from smsvia.services.delivery import Tracker
from smsvia.services.messages import SendRequest, send_message
from smsvia.store import outbox
from smsvia.store.models import Message, WebhookAttempt, WebhookDelivery
from smsvia.webhooks.dispatcher import WebhookDispatcher
from tests.integration.scenario import BOOK, QUICK_RETRIES, Scenario

# The shop's callback receiver is on 127.0.0.1.
POSTER = replace(QUICK_RETRIES, allow_private=True)


class DiesBeforePosting:
    """A courier whose process dies right after the commit: it leases, is handed the
    callbacks, and never posts them."""

    owner = "gone-worker"

    def __init__(self) -> None:
        self.handed: list = []

    def lease(self, count):
        return self.owner, utcnow() + timedelta(seconds=60)

    def take(self, handed):
        self.handed.extend(handed)


async def _scheduled(backend, shop, url: str) -> str:
    view = await send_message(
        backend.store,
        shop.principal,
        SendRequest(
            to="+14155550100",
            sender=shop.sender,
            body="Your order has shipped",
            status_callback=url,
            send_at=utcnow() + timedelta(hours=1),
            schedule_type="fixed",
        ),
        price_book=BOOK,
        allow_private_urls=True,
    )
    return view.sid


async def _cancel(backend, tracker: Tracker, sid: str, *, then_fail: bool = False) -> None:
    async with backend.store.db.transaction() as session:
        message = await session.scalar(select(Message).where(Message.sid == sid))
        message.due_at = None
        await tracker.move(session, message, Status.CANCELED, utcnow(), "canceled")
        if then_fail:
            raise RuntimeError("the transaction fails after the callback was queued")


async def _handed_over(
    backend, shop, url: str, count: int = 1
) -> tuple[DiesBeforePosting, list[str]]:
    """Scheduled messages canceled, their callbacks handed to a courier that never posts."""
    courier = DiesBeforePosting()
    tracker = Tracker(backend.store, courier=courier)
    sids = [await _scheduled(backend, shop, url) for _ in range(count)]
    for sid in sids:
        await _cancel(backend, tracker, sid)
    return courier, sids


def test_callbacks_are_posted_as_their_status_commits_with_no_claim(backend, callback_receiver):
    """The claim loop sleeps for an hour here: only the hand-over can post in time."""

    async def scenario():
        config = replace(QUICK_RETRIES, poll_interval=3600)
        async with Scenario(backend, webhook_config=config) as run:
            created = await run.send("+14155550100", status_callback=callback_receiver.url)
            await run.wait_for(created.sid, "delivered")
            deadline = time.monotonic() + 15
            while len(callback_receiver.received) < 2:
                assert time.monotonic() < deadline, callback_receiver.received
                await asyncio.sleep(0.05)
            statuses = sorted(c.params["MessageStatus"] for c in callback_receiver.received)
            assert statuses == ["delivered", "sent"]
            validator = RequestValidator(run.shop.token)
            assert all(
                validator.validate(c.url, c.params, c.signature) for c in callback_receiver.received
            )
            while True:  # the answer reaches the receiver a moment before it is recorded
                async with backend.store.db.sessions() as session:
                    # Attempts first: a delivery's outcome commits with its attempt, and on
                    # PostgreSQL each statement reads what had committed when it began.
                    attempts = (await session.scalars(select(WebhookAttempt))).all()
                    deliveries = (await session.scalars(select(WebhookDelivery))).all()
                if len(attempts) == 2 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            assert [(d.status, d.attempts, d.lease_owner) for d in deliveries] == [
                ("succeeded", 1, None),
                ("succeeded", 1, None),
            ]
            assert [a.response_status for a in attempts] == [200, 200]

    backend.run(scenario())


def test_a_callback_whose_poster_died_is_posted_once_its_claim_is_taken_over(
    backend, callback_receiver
):
    shop = backend.tenant()

    async def scenario():
        courier, (sid,) = await _handed_over(backend, shop, callback_receiver.url)
        assert [params["MessageStatus"] for _, params in courier.handed] == ["canceled"]

        survivor = WebhookDispatcher(backend.store, owner="survivor", config=POSTER)
        try:
            assert await survivor.run_once() == 0  # still claimed by the dead poster
            async with backend.store.db.transaction() as session:
                assert await outbox.expire_leases_of(session, {courier.owner}, utcnow()) == 1
            assert await survivor.run_once() == 1
        finally:
            await survivor.close()
        (callback,) = callback_receiver.received
        assert callback.params["MessageSid"] == sid
        assert callback.params["MessageStatus"] == "canceled"
        assert RequestValidator(shop.token).validate(
            callback.url, callback.params, callback.signature
        )

    backend.run(scenario())


def test_a_rolled_back_status_change_hands_over_nothing(backend, callback_receiver):
    shop = backend.tenant()

    async def scenario():
        courier = DiesBeforePosting()
        sid = await _scheduled(backend, shop, callback_receiver.url)
        with pytest.raises(RuntimeError):
            await _cancel(backend, Tracker(backend.store, courier=courier), sid, then_fail=True)
        assert courier.handed == []
        async with backend.store.db.sessions() as session:
            assert (await session.scalars(select(WebhookDelivery))).all() == []

    backend.run(scenario())


def test_a_handed_callback_kept_waiting_past_its_lease_is_left_to_the_claim(
    backend, callback_receiver
):
    """Posting it then could post it twice: a claim may have taken it meanwhile."""
    shop = backend.tenant()

    async def scenario():
        courier, (sid,) = await _handed_over(backend, shop, callback_receiver.url)
        ((row, params),) = courier.handed
        row.lease_expires_at = utcnow() + timedelta(seconds=1)  # it waited 59 s of 60
        poster = WebhookDispatcher(backend.store, owner=courier.owner, config=POSTER)
        try:
            assert await poster.post_handed([(row, params)]) == 0
            assert callback_receiver.received == []
            row.lease_expires_at = utcnow() + timedelta(seconds=60)  # had it come at once
            assert await poster.post_handed([(row, params)]) == 1
        finally:
            await poster.close()
        assert [c.params["MessageSid"] for c in callback_receiver.received] == [sid]

    backend.run(scenario())


def test_batches_posted_side_by_side_are_each_signed(backend, callback_receiver):
    """Lanes post at once; one re-reading the auth tokens (on PostgreSQL, every batch) must
    never leave another without the token it just read."""
    shop = backend.tenant()

    async def scenario():
        courier, sids = await _handed_over(backend, shop, callback_receiver.url, count=48)
        poster = WebhookDispatcher(backend.store, owner=courier.owner, config=POSTER)

        async def lane(one, start: float):
            await asyncio.sleep(start)  # batches in every phase of each other's token read
            return await poster.post_handed([one])

        try:
            posted = await asyncio.gather(
                *(lane(one, i * 0.0005) for i, one in enumerate(courier.handed))
            )
        finally:
            await poster.close()
        assert posted == [1] * len(sids)
        assert sorted(c.params["MessageSid"] for c in callback_receiver.received) == sorted(sids)
        validator = RequestValidator(shop.token)
        assert all(
            validator.validate(c.url, c.params, c.signature) for c in callback_receiver.received
        )

    backend.run(scenario())
