"""Submits answered after the response timeout: the late answer settles the part it left
ambiguous (dispatch/late_answers.py), against the simulator over a socket, on both
databases."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from smsvia.channels import smpp_wire as wire
from smsvia.sim.smsc import SmscBehaviour
from smsvia.store.models import Message, MessagePart
from tests.integration.scenario import Scenario

# Every answer comes after our 0.3 s timeout; receipts come well after the answers.
LATE = {"respond_after": 0.8, "dlr_delay": 2.5}


async def parts_of(backend, sid: str) -> list[tuple[int, str, str | None, int | None]]:
    async with backend.store.db.sessions() as session:
        rows = await session.execute(
            select(
                MessagePart.sequence,
                MessagePart.status,
                MessagePart.smsc_message_id,
                MessagePart.error_code,
            )
            .join(Message, Message.id == MessagePart.message_id)
            .where(Message.sid == sid)
            .order_by(MessagePart.sequence)
        )
        return [tuple(row) for row in rows]


async def until(condition, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


STATUSES = {"queued", "sending", "sent", "delivered", "undelivered", "failed"}


def late_events(view) -> list[str]:
    return [event.detail for event in view.timeline if event.event == "answered late"]


def test_an_acceptance_after_the_timeout_names_the_part_for_its_receipt(backend):
    async def scenario():
        async with Scenario(backend, SmscBehaviour(**LATE), response_timeout_override=0.3) as run:
            long_text = "Your order #1042 has shipped and is on its way to you. " * 4
            created = await run.send("+14155550100", body=long_text)
            await run.wait_for(created.sid, "sent")

            async def named():
                parts = await parts_of(backend, created.sid)
                return parts and all(smsc_id for _, _, smsc_id, _ in parts)

            await until(named)
            # Named before its receipt came: the receipt finds it by id, not by handset.
            assert [status for _, status, _, _ in await parts_of(backend, created.sid)] == [
                "submitted"
            ] * len(run.sim.accepted)
            view = await run.wait_for(created.sid, "delivered")
            events = [event.event for event in view.timeline]
            assert "reconciled" not in events, view.timeline
            assert "ambiguous" in events
            ids = [submit.message_id for submit in run.sim.accepted]
            assert [smsc_id for _, _, smsc_id, _ in await parts_of(backend, created.sid)] == ids
            assert late_events(view) == [
                f"part {n}: accepted after the timeout as {smsc_id}"
                for n, smsc_id in enumerate(ids, start=1)
            ]
            # The first part was given up on, then the message went on with the rest: each
            # part reached the SMSC once.
            assert len(ids) == 2 and run.sim.destinations() == ["14155550100"] * 2

    backend.run(scenario())


def test_the_connectors_own_response_timeout_decides_when_a_part_is_given_up_on(backend):
    async def scenario():
        behaviour = SmscBehaviour(respond_after=1.4, dlr_delay=4)
        async with Scenario(backend, behaviour, response_timeout=1) as run:
            (channel,) = run.dispatch.channels.values()
            assert channel.config.response_timeout == 1
            created = await run.send("+14155550100")
            view = await run.wait_for(created.sid, "delivered", timeout=20)
            (accepted,) = run.sim.accepted
            assert late_events(view) == [
                f"part 1: accepted after the timeout as {accepted.message_id}"
            ]

    backend.run(scenario())


def test_a_refusal_after_the_timeout_fails_the_message_with_its_code(backend, callback_receiver):
    async def scenario():
        behaviour = SmscBehaviour(**LATE, refuse_with=wire.ESME_RINVDSTADR)
        async with Scenario(backend, behaviour, response_timeout_override=0.3) as run:
            url = f"{callback_receiver.url}/status"
            created = await run.send("+14155550100", status_callback=url)
            view = await run.wait_for(created.sid, "failed")
            assert view.error_code == 21211
            assert late_events(view) == [
                "part 1: refused after the timeout: the SMSC refused the destination address "
                "(ESME_RINVDSTADR); it never went out"
            ]
            assert await parts_of(backend, created.sid) == [(1, "failed", None, 21211)]
            assert run.sim.accepted == []

            async def both_called_back():
                return len(callback_receiver.received) == 2

            await until(both_called_back)
            said = [
                (c.params["MessageStatus"], c.params.get("ErrorCode"))
                for c in callback_receiver.received
            ]
            assert said == [("sent", None), ("failed", "21211")]

    backend.run(scenario())


def test_a_throttling_after_the_timeout_sends_the_part_again_once(backend):
    async def scenario():
        behaviour = SmscBehaviour(**LATE, refuse_with=wire.ESME_RTHROTTLED, refusals=1)
        async with Scenario(backend, behaviour, response_timeout_override=0.3) as run:
            created = await run.send("+14155550100")
            view = await run.wait_for(created.sid, "delivered", timeout=20)
            (accepted,) = run.sim.accepted
            assert run.sim.refused == 1
            assert late_events(view) == [
                "part 1: refused for now after the timeout: ESME_RTHROTTLED: slowing down; "
                "it goes out again",
                f"part 1: accepted after the timeout as {accepted.message_id}",
            ]
            # Sent, then back in the queue on the SMSC's word, then out again: once.
            moves = [event.event for event in view.timeline if event.event in STATUSES]
            assert moves == ["queued", "sending", "sent"] * 2 + ["delivered"]
            assert await parts_of(backend, created.sid) == [
                (1, "delivered", accepted.message_id, None)
            ]

    backend.run(scenario())
