"""The whole sending path against the SMSC simulator over a real socket, on both databases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from smsvia.channels import smpp_wire as wire
from smsvia.services.clock import utcnow
from smsvia.services.message_views import get_message
from smsvia.services.messages import SendRequest, send_message, send_messages
from smsvia.sim.smsc import SmscBehaviour, SmscSimulator
from smsvia.store.models import MessagePart
from tests.integration.scenario import BOOK, Scenario

# A text that goes out in two parts.
TWO_PARTS = "Your order #1042 has shipped and is on its way to you. " * 3


def test_message_is_submitted_over_smpp_and_delivered(backend):
    async def scenario():
        async with Scenario(backend) as run:
            created = await run.send("+14155550100")
            view = await run.wait_for(created.sid, "delivered")
            assert [s.destination for s in run.sim.accepted] == ["14155550100"]
            assert run.sim.accepted[0].short_message == b"Your order has shipped"
            assert run.sim.accepted[0].registered_delivery == 1
            events = [entry.event for entry in view.timeline]
            assert events == ["queued", "sending", "sent", "delivered"]
            assert view.date_sent is not None

    backend.run(scenario())


def test_multipart_message_is_delivered_when_every_part_is(backend):
    async def scenario():
        async with Scenario(backend) as run:
            created = await run.send("+14155550101", body="a" * 320)
            view = await run.wait_for(created.sid, "delivered")
            parts = run.sim.accepted
            assert [len(p.short_message) for p in parts] == [159, 159, 20]
            assert {p.short_message[:5] for p in parts} == {
                b"\x05\x00\x03" + parts[0].short_message[3:5]
            }
            assert all(p.esm_class == 0x40 for p in parts)
            assert view.num_segments == 3

    backend.run(scenario())


def test_undeliverable_number_ends_undelivered_with_30003(backend):
    async def scenario():
        async with Scenario(backend) as run:
            created = await run.send("+14155559999")
            view = await run.wait_for(created.sid, "undelivered")
            assert view.error_code == 30003

    backend.run(scenario())


def test_invalid_destination_fails_without_retry(backend):
    async def scenario():
        async with Scenario(backend) as run:
            created = await run.send("+14155559998")
            view = await run.wait_for(created.sid, "failed")
            assert view.error_code == 21211
            await asyncio.sleep(0.3)
            assert run.sim.accepted == []

    backend.run(scenario())


def test_message_without_receipt_stays_sent(backend):
    async def scenario():
        async with Scenario(backend) as run:
            created = await run.send("+14155559997")
            await run.wait_for(created.sid, "sent")
            await asyncio.sleep(0.3)
            assert (await run.wait_for(created.sid, "sent")).status == "sent"

    backend.run(scenario())


def test_accepted_without_a_message_id_is_sent_once_not_failed(backend):
    """Some SMSCs answer ESME_ROK with an empty message_id: the message is at the SMSC, so it
    is `sent` (its receipt cannot be matched, and says so), never failed or sent again."""

    async def scenario():
        behaviour = SmscBehaviour(ids="unnumbered", dlr_delay=0.01)
        async with Scenario(backend, behaviour) as run:
            created = await run.send("+14155550102")
            view = await run.wait_for(created.sid, "sent", "failed")
            await asyncio.sleep(0.5)  # its receipt, named with an id we were never given
            view = await run.wait_for(created.sid, "sent")
            assert view.error_code is None
            assert run.sim.destinations() == ["14155550102"]
            assert "without a message id" in view.timeline[-1].detail
            async with backend.store.db.sessions() as session:
                part = (await session.execute(select(MessagePart))).scalar_one()
            assert (part.status, part.smsc_message_id) == ("submitted", None)

    backend.run(scenario())


def test_a_generic_nack_to_a_submit_is_never_taken_for_an_acceptance(backend):
    """Even one whose status is 0, as broken SMSCs send: the SMSC did not take the submit."""

    async def scenario():
        behaviour = SmscBehaviour(nack_submits=wire.ESME_ROK)
        async with Scenario(backend, behaviour) as run:
            created = await run.send("+14155550105")
            view = await run.wait_for(created.sid, "failed", "sent")
            assert (view.status, view.error_code) == ("failed", 30008)
            assert "generic_nack" in view.error_message
            assert run.sim.accepted == []

    backend.run(scenario())


def test_an_idle_link_is_kept_at_the_connectors_enquire_link_interval(backend):
    async def scenario():
        async with Scenario(backend, enquire_link_interval=1) as run:
            created = await run.send("+14155550103")
            await run.wait_for(created.sid, "delivered")
            before = run.sim.enquire_links
            await asyncio.sleep(3.5)  # silent: an enquire_link each second, not after 30
            assert run.sim.enquire_links - before >= 2
            assert run.sim.binds == 1

    backend.run(scenario())


@pytest.mark.parametrize("delivers_with", ["message_payload", "data_sm"])
def test_receipts_in_message_payload_or_data_sm_settle_their_messages(backend, delivers_with):
    async def scenario():
        behaviour = SmscBehaviour(dlr_delay=0.01, delivers_with=delivers_with)
        async with Scenario(backend, behaviour) as run:
            delivered = await run.send("+14155550104")
            undelivered = await run.send("+14155559999")
            assert (await run.wait_for(delivered.sid, "delivered")).status == "delivered"
            assert (await run.wait_for(undelivered.sid, "undelivered")).error_code == 30003
            assert (run.sim.receipts_acknowledged, run.sim.wrong_answers) == (2, 0)

    backend.run(scenario())


def test_parts_accepted_without_ids_over_two_attempts_are_all_named(backend):
    """Part 1 is accepted without an id, part 2 throttled and sent on the next attempt: the
    message's `sent` note names both parts as ones no receipt can match."""

    async def scenario():
        behaviour = SmscBehaviour(ids="unnumbered", dlr_delay=0.01, throttle_tps=1)
        async with Scenario(backend, behaviour) as run:
            created = await run.send("+14155550102", body=TWO_PARTS)
            view = await run.wait_for(created.sid, "sent", timeout=20)
            assert any(e.detail.startswith("will retry") for e in view.timeline)
            assert len(run.sim.accepted) == 2
            assert "part 1, 2 accepted without a message id" in view.timeline[-1].detail

    backend.run(scenario())


def test_an_smsc_answering_every_submit_twice_settles_each_message_once(backend):
    async def scenario():
        behaviour = SmscBehaviour(answer_twice=True, dlr_delay=0.01)
        async with Scenario(backend, behaviour) as run:
            sids = [(await run.send(f"+1415200{i:04d}", body=TWO_PARTS)).sid for i in range(10)]
            views = [await run.wait_for(sid, "delivered") for sid in sids]
            each_twice = [f"1415200{i:04d}" for i in range(10) for _part in (1, 2)]
            assert sorted(run.sim.destinations()) == sorted(each_twice)
            assert all(view.num_segments == 2 for view in views)
            assert not [e for view in views for e in view.timeline if "late" in e.detail]

    backend.run(scenario())


def test_throttled_submits_slow_down_and_all_arrive_once(backend):
    async def scenario():
        behaviour = SmscBehaviour(dlr_delay=0.01, throttle_tps=5)
        async with Scenario(backend, behaviour) as run:
            sids = [(await run.send(f"+1415200{i:04d}")).sid for i in range(12)]
            for sid in sids:
                await run.wait_for(sid, "delivered", timeout=30)
            destinations = run.sim.destinations()
            assert sorted(destinations) == sorted(f"1415200{i:04d}" for i in range(12))

    backend.run(scenario())


def test_window_bounds_unanswered_submits(backend):
    async def scenario():
        behaviour = SmscBehaviour(dlr_delay=0.01, respond_after=0.1)
        async with Scenario(backend, behaviour, window=3) as run:
            sids = [(await run.send(f"+1415200{i:04d}")).sid for i in range(15)]
            for sid in sids:
                await run.wait_for(sid, "delivered", timeout=30)
            assert 1 <= run.sim.max_outstanding <= 3

    backend.run(scenario())


def test_smsc_restart_mid_run_reconnects_and_finishes(backend):
    async def scenario():
        async with Scenario(backend) as run:
            first = await run.send("+14152000001")
            await run.wait_for(first.sid, "delivered")
            port = run.sim.port
            await run.sim.stop()
            queued = [(await run.send(f"+1415201{i:04d}")).sid for i in range(5)]
            await asyncio.sleep(0.5)
            restarted = SmscSimulator(port=port, behaviour=SmscBehaviour(dlr_delay=0.01))
            await restarted.start()
            try:
                for sid in queued:
                    await run.wait_for(sid, "delivered", timeout=30)
                assert sorted(restarted.destinations()) == [f"1415201{i:04d}" for i in range(5)]
            finally:
                await restarted.stop()

    backend.run(scenario())


def test_lost_answer_is_ambiguous_never_resent_and_reconciled_by_receipt(backend):
    async def scenario():
        behaviour = SmscBehaviour(dlr_delay=0.2, drop_after=2)
        async with Scenario(backend, behaviour) as run:
            views = []
            for i in range(4):  # one at a time: every second submit loses its answer
                created = await run.send(f"+1415202{i:04d}")
                views.append(await run.wait_for(created.sid, "delivered", timeout=30))
            destinations = run.sim.destinations()
            assert len(destinations) == len(set(destinations)) == 4
            events = [[e.event for e in view.timeline] for view in views]
            for lost in (events[1], events[3]):
                assert "ambiguous" in lost and "reconciled" in lost
            assert "ambiguous" not in events[0] and "ambiguous" not in events[2]

    backend.run(scenario())


def test_connection_cut_under_a_full_window_never_duplicates(backend):
    async def scenario():
        behaviour = SmscBehaviour(dlr_delay=0.05, drop_after=5, respond_after=0.05)
        async with Scenario(backend, behaviour, window=4) as run:
            sids = [(await run.send(f"+1415203{i:04d}")).sid for i in range(20)]
            settled = [await run.wait_for(sid, "delivered", "sent", timeout=30) for sid in sids]
            destinations = run.sim.destinations()
            assert len(destinations) == len(set(destinations)), "a submit was sent twice"
            taken = {s.destination: s for s in run.sim.accepted}
            assert any(not s.answered for s in taken.values()), "no answer was ever lost"
            for sid, first in zip(sids, settled, strict=True):
                submit = taken.get(first.to[1:])
                if submit is None:
                    # Written into a connection the SMSC had already cut: it never arrived,
                    # and no receipt will come. It stays flagged, never resent.
                    view = await run.wait_for(sid, "sent")
                else:
                    # The simulator sends a receipt for every submit it took and repeats
                    # receipts a cut connection lost, so these all end delivered.
                    view = await run.wait_for(sid, "delivered", timeout=30)
                events = [e.event for e in view.timeline]
                unconfirmed = submit is None or not submit.answered
                assert ("ambiguous" in events) == unconfirmed, view.timeline
                if submit is not None:
                    assert ("reconciled" in events) == unconfirmed, view.timeline

    backend.run(scenario())


def test_refused_bind_keeps_messages_queued_and_says_why(backend):
    async def scenario():
        async with Scenario(backend, password="wrong", connect_timeout=0.5) as run:
            created = await run.send("+14155550100")
            await asyncio.sleep(1.5)
            view = await get_message(backend.store, run.shop.principal, created.sid)
            assert view.status in ("queued", "sending")
            assert run.sim.accepted == []
            assert run.sim.bind_failures >= 1
            channel = next(iter(run.dispatch.channels.values()))
            assert "credentials refused" in (channel.last_error or "")

    backend.run(scenario())


def test_garbage_pdu_gets_generic_nack_and_sending_goes_on(backend):
    async def scenario():
        async with Scenario(backend) as run:
            first = await run.send("+14155550100")
            await run.wait_for(first.sid, "delivered")
            await run.sim.send_raw(wire.pdu(0x00000777, 0, 4242, b"garbage"))
            second = await run.send("+14155550101")
            await run.wait_for(second.sid, "delivered")
            assert run.sim.generic_nacks_received == 1

    backend.run(scenario())


def test_scheduled_message_goes_out_when_due(backend):
    async def scenario():
        async with Scenario(backend) as run:
            past = utcnow() - timedelta(minutes=10)
            created = await send_message(
                backend.store,
                run.shop.principal,
                SendRequest(
                    to="+14155550100",
                    sender=run.shop.sender,
                    body="reminder",
                    send_at=past + timedelta(minutes=5),
                    schedule_type="fixed",
                ),
                price_book=BOOK,
                clock=lambda: past,
            )
            assert created.status == "scheduled"
            view = await run.wait_for(created.sid, "delivered")
            assert [e.event for e in view.timeline][:2] == ["scheduled", "queued"]

    backend.run(scenario())


def test_message_past_its_validity_period_fails_with_30036(backend):
    async def scenario():
        async with Scenario(backend) as run:
            past = utcnow() - timedelta(minutes=10)
            created = await send_message(
                backend.store,
                run.shop.principal,
                SendRequest(
                    to="+14155550100", sender=run.shop.sender, body="x", validity_period=60
                ),
                price_book=BOOK,
                clock=lambda: past,
            )
            view = await run.wait_for(created.sid, "failed")
            assert view.error_code == 30036
            assert run.sim.accepted == []

    backend.run(scenario())


def test_bulk_queue_keeps_good_requests_and_reports_bad_ones(backend):
    async def scenario():
        async with Scenario(backend) as run:
            requests = [
                SendRequest(to=f"+1415204{i:04d}", sender=run.shop.sender, body=f"Sale {i}")
                for i in range(50)
            ]
            requests[7] = SendRequest(to="not a number", sender=run.shop.sender, body="x")
            requests[9] = SendRequest(to="+14152040009", sender="+15559990000", body="x")
            results = await send_messages(
                backend.store, run.shop.principal, requests, price_book=BOOK
            )
            assert [r.code for r in results if not isinstance(r, str)] == [21211, 21606]
            sids = [r for r in results if isinstance(r, str)]
            assert len(sids) == 48
            for sid in sids:
                await run.wait_for(sid, "delivered")
            assert len(run.sim.accepted) == 48

    backend.run(scenario())
