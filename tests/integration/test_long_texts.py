"""A customer's long text arrives in parts over real SMPP and reaches the shop whole, once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from smsvia.domain.encoding import segment, to_parts
from smsvia.services import inbound_parts, key_rotation
from smsvia.services.delivery import Tracker
from smsvia.sim.smsc import SmscBehaviour
from smsvia.store.models import InboundPart, Message
from smsvia.store.senders import number_by_phone
from tests.integration.scenario import BOOK, Scenario
from tests.integration.test_key_rotation import keyed, new_key

HANDSET = "+14155550123"
# 153 GSM-7 characters a part: three parts.
LONG = ("Hello, I ordered the blue jacket last week and it has not arrived yet. " * 6).strip()
# 67 UCS-2 characters a part (an emoji takes two): three parts.
LONG_UCS2 = "Merci 😊 pour la commande ! Où en est la livraison ? " * 3


async def wait_until(condition, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def inbound_bodies(backend) -> list[str]:
    async with backend.store.db.sessions() as session:
        rows = await session.scalars(
            select(Message).where(Message.direction == "inbound").order_by(Message.id)
        )
        return [backend.store.cipher.open(row.body, "message.body") for row in rows]


async def waiting_parts(backend) -> int:
    async with backend.store.db.sessions() as session:
        return await session.scalar(select(func.count()).where(InboundPart.received_as.is_(None)))


def forwarded(receiver) -> list[dict[str, str]]:
    return [callback.params for callback in receiver.received]


def test_a_long_text_in_parts_out_of_order_reaches_the_shop_once_and_whole(
    backend, callback_receiver
):
    async def run():
        async with Scenario(backend, sms_url=callback_receiver.url + "/inbound") as sc:
            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, LONG, order=[3, 1, 2])
            await wait_until(lambda: callback_receiver.received)
            await asyncio.sleep(0.3)  # nothing more comes
            await wait_until(lambda: sc.sim.unacknowledged() == 0)
            return forwarded(callback_receiver), await inbound_bodies(backend), sc.sim

    sent, bodies, sim = backend.run(run())
    assert [(params["Body"], params["NumSegments"]) for params in sent] == [(LONG, "3")]
    assert bodies == [LONG]
    assert sim.wrong_answers == 0


@pytest.mark.parametrize(
    ("delivers_with", "sar"),
    [("deliver_sm", True), ("message_payload", False), ("data_sm", True)],
)
def test_a_long_unicode_text_is_joined_from_a_header_or_sar_tlvs(
    backend, callback_receiver, delivers_with, sar
):
    async def run():
        behaviour = SmscBehaviour(dlr_delay=0.02, delivers_with=delivers_with)
        async with Scenario(backend, behaviour, sms_url=callback_receiver.url + "/inbound") as sc:
            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, LONG_UCS2, sar=sar, reference=300)
            await wait_until(lambda: callback_receiver.received)
            return forwarded(callback_receiver)

    (params,) = backend.run(run())
    assert (params["Body"], params["NumSegments"]) == (LONG_UCS2, "3")


def test_a_part_offered_again_before_or_after_its_text_is_whole_changes_nothing(
    backend, callback_receiver
):
    async def run():
        async with Scenario(backend, sms_url=callback_receiver.url + "/inbound") as sc:
            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, LONG, order=[1, 2, 2, 1, 3])
            await wait_until(lambda: callback_receiver.received)
            # Its answer lost to a crash: the SMSC offers the last part once more.
            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, LONG, order=[3])
            await wait_until(lambda: sc.sim.unacknowledged() == 0)
            await asyncio.sleep(0.3)
            return forwarded(callback_receiver), await inbound_bodies(backend)

    sent, bodies = backend.run(run())
    assert [params["Body"] for params in sent] == [LONG]
    assert bodies == [LONG]


def test_a_new_text_reusing_a_reference_is_a_text_of_its_own(backend, callback_receiver):
    second = LONG.replace("blue jacket", "red scarf!!")
    assert len(second) == len(LONG)

    async def run():
        async with Scenario(backend, sms_url=callback_receiver.url + "/inbound") as sc:
            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, LONG, reference=9)
            await wait_until(lambda: len(callback_receiver.received) == 1)
            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, second, reference=9)
            await wait_until(lambda: len(callback_receiver.received) == 2)
            return await inbound_bodies(backend)

    assert backend.run(run()) == [LONG, second]


def test_texts_whose_parts_come_all_at_once_are_each_received(backend, callback_receiver):
    handsets = [f"+1415555{n:04d}" for n in range(12)]

    async def run():
        async with Scenario(backend, sms_url=callback_receiver.url + "/inbound") as sc:
            await asyncio.gather(
                *(
                    sc.sim.deliver_mo(handset, sc.shop.sender, f"{handset}: {LONG}", order=order)
                    for handset, order in zip(handsets, [[1, 2, 3], [3, 2, 1]] * 6, strict=True)
                )
            )
            await wait_until(lambda: len(callback_receiver.received) >= len(handsets))
            await asyncio.sleep(0.3)
            return forwarded(callback_receiver), await waiting_parts(backend)

    sent, waiting = backend.run(run())
    assert sorted((params["From"], params["Body"]) for params in sent) == sorted(
        (handset, f"{handset}: {LONG}") for handset in handsets
    )
    assert waiting == 0


def test_a_text_whose_part_never_comes_is_received_without_it_once_overdue(
    backend, callback_receiver
):
    async def run():
        async with Scenario(
            backend,
            sms_url=callback_receiver.url + "/inbound",
            dispatch_options={"long_text_wait": 0.5, "long_text_interval": 0.1},
        ) as sc:
            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, LONG, order=[3, 1])
            await wait_until(lambda: sc.sim.unacknowledged() == 0)
            before = list(callback_receiver.received)
            await wait_until(lambda: callback_receiver.received)
            return before, forwarded(callback_receiver), await waiting_parts(backend)

    before, sent, waiting = backend.run(run())
    assert before == []  # nothing while it may still come
    first, third = LONG[:153], LONG[306:]
    assert [(params["Body"], params["NumSegments"]) for params in sent] == [
        (f"{first}[…]{third}", "2")
    ]
    assert waiting == 0


async def part_comes(backend, shop, part) -> str | None:
    """One part of a customer's text reaches the shop's number; the message's body once
    it completes the text."""
    store = backend.store
    async with store.db.transaction() as session:
        number = await number_by_phone(session, shop.sender)
        message = await inbound_parts.receive_part(
            session,
            store,
            Tracker(store),
            BOOK,
            number=number,
            handset=HANDSET,
            part=part,
            connector="smsc1",
            now=datetime.now(UTC),
        )
    return None if message is None else store.cipher.open(message.body, "message.body")


def begun_under_the_old_key(settings, *parts):
    """(old key, new key, shop) once these parts of a text came under the old key."""
    old = settings.master_key.get_secret_value()
    before = keyed(settings, old)
    try:
        shop = before.tenant()
        for part in parts:
            assert before.run(part_comes(before, shop, part)) is None
    finally:
        before.close()
    return old, new_key(), shop


def test_a_text_begun_under_the_old_key_is_finished_during_a_rotation(settings):
    first, second, third = to_parts(segment(LONG), reference=4)
    old, new, shop = begun_under_the_old_key(settings, first)
    ring = keyed(settings, new, old)  # the new key first: new parts are indexed with it
    try:
        assert ring.run(part_comes(ring, shop, second)) is None
        assert ring.run(part_comes(ring, shop, third)) == LONG
    finally:
        ring.close()


def test_a_rotation_re_keys_the_parts_still_waiting(settings):
    first, second, third = to_parts(segment(LONG), reference=4)
    old, new, shop = begun_under_the_old_key(settings, first, second)
    ring = keyed(settings, new, old)
    try:
        report = ring.run(key_rotation.rotate(ring.store))
        assert {t.table: t.rewritten for t in report.tables}["inbound_parts"] == 2
    finally:
        ring.close()
    after = keyed(settings, new)  # the old key gone
    try:
        assert after.run(part_comes(after, shop, third)) == LONG
    finally:
        after.close()
