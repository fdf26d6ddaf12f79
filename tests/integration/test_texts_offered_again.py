"""A customer's one-part text whose answer the SMSC never read (the link dropped, or the
process died, just after we stored it) is offered again on the next bind: received once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from smsvia.dispatch.inbound import OFFERED_AGAIN_WITHIN
from smsvia.sim.smsc import SmscBehaviour
from smsvia.store.models import UnconfirmedText
from smsvia.store.senders import number_by_phone
from tests.integration.scenario import Scenario
from tests.integration.test_long_texts import HANDSET, forwarded, inbound_bodies, wait_until

TEXT = "Where is my order?"


def losing(answers: int) -> SmscBehaviour:
    return SmscBehaviour(dlr_delay=0.02, lose_text_answers=answers)


async def unconfirmed(backend) -> int:
    async with backend.store.db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(UnconfirmedText))


async def answered_and_confirmed(sc: Scenario, backend, texts: int) -> None:
    """Every text the SMSC offered is answered, and the SMSC is known to have read it."""
    await wait_until(lambda: sc.sim.unacknowledged() == 0 and sc.sim.binds >= texts)
    for _ in range(100):
        if await unconfirmed(backend) == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a text's answer was never confirmed")


def test_a_text_whose_answer_the_link_lost_is_received_once(backend, callback_receiver):
    async def run():
        async with Scenario(backend, losing(2), sms_url=callback_receiver.url + "/inbound") as sc:
            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, TEXT)
            await wait_until(lambda: sc.sim.text_answers_lost == 2)
            await answered_and_confirmed(sc, backend, 3)
            await wait_until(lambda: callback_receiver.received)
            return sc.sim.binds, await inbound_bodies(backend), forwarded(callback_receiver)

    binds, bodies, sent = backend.run(run())
    assert binds == 3  # offered on three links, answered on each
    assert bodies == [TEXT]
    assert [params["Body"] for params in sent] == [TEXT]


def test_the_same_text_sent_again_is_a_text_of_its_own(backend, callback_receiver):
    """Twice on one link, and once more after an offer again: three texts, each received."""

    async def run():
        async with Scenario(backend, losing(1), sms_url=callback_receiver.url + "/inbound") as sc:
            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, TEXT)
            await answered_and_confirmed(sc, backend, 2)
            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, TEXT)
            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, TEXT)
            await answered_and_confirmed(sc, backend, 2)
            await wait_until(lambda: len(callback_receiver.received) == 3)
            return await inbound_bodies(backend)

    assert backend.run(run()) == [TEXT] * 3


def test_an_offer_later_than_any_smsc_makes_is_a_new_text(backend):
    """A note left by a link that ended before its answer was confirmed counts only for
    OFFERED_AGAIN_WITHIN; the sweep forgets it after that."""

    async def run():
        async with Scenario(backend) as sc:
            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, TEXT)
            await answered_and_confirmed(sc, backend, 1)
            async with backend.store.db.transaction() as session:
                ours = await number_by_phone(session, sc.shop.sender)
                cipher = backend.store.cipher
                left = sc.dispatch.inbound.clock() - OFFERED_AGAIN_WITHIN - timedelta(seconds=1)
                session.add(
                    UnconfirmedText(
                        number_id=ours.id,
                        source_index=cipher.blind_index(HANDSET, "phone"),
                        body_index=cipher.blind_index(TEXT, "text"),
                        link="a link long gone",
                        message_sid="SM" + "0" * 32,
                        received_at=left,
                    )
                )
            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, TEXT)
            await wait_until(lambda: sc.sim.unacknowledged() == 0)
            await sc.dispatch.inbound.forget_old_notes()
            await answered_and_confirmed(sc, backend, 1)
            return await inbound_bodies(backend)

    assert backend.run(run()) == [TEXT, TEXT]
