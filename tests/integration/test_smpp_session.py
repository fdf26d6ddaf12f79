"""The SMPP channel's own session against the SMSC simulator over a real socket: a
deliver_sm is answered only once the handler has it stored, so a receipt or a customer's
text in hand when the process stops or the database fails is offered again, never lost."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import pytest

from smsvia.channels import smpp_wire as wire
from smsvia.channels.base import (
    AnsweredLate,
    MessageHeard,
    PartOutcome,
    ReceiptHeard,
    SmsSubmission,
)
from smsvia.channels.smpp import SmppChannel, SmppConfig
from smsvia.domain.encoding import segment, to_parts
from smsvia.domain.phone import WrittenNumber
from smsvia.sim.smsc import SmscBehaviour, SmscSimulator

# A customer's text as the simulator writes its addresses: international numbers, no "+".
HANDSET = WrittenNumber("14155550100", 1)
OURS = WrittenNumber("15005550006", 1)


class Handler:
    """An inbound handler whose stores the test finishes (or fails) by hand."""

    def __init__(self) -> None:
        self.heard: list[tuple[object, asyncio.Future[None]]] = []

    def __call__(self, heard) -> asyncio.Future[None]:
        stored = asyncio.get_running_loop().create_future()
        self.heard.append((heard, stored))
        return stored

    async def next(self, count: int) -> tuple[object, asyncio.Future[None]]:
        await until(lambda: len(self.heard) >= count, f"deliver_sm number {count}")
        return self.heard[count - 1]


async def until(condition, what: str, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def settle() -> None:
    """Long enough for an answer the channel should not send to have reached the SMSC."""
    await asyncio.sleep(0.3)


@contextlib.asynccontextmanager
async def bound(sim: SmscSimulator, handler: Handler, **options):
    config = SmppConfig("127.0.0.1", sim.port, "smsvia", "secret", backoff_initial=0.05, **options)
    channel = SmppChannel("smsc", config)
    await channel.start(handler)
    try:
        assert await channel.wait_bound(5)
        yield channel
    finally:
        await channel.close()


@contextlib.asynccontextmanager
async def smsc(tls: ssl.SSLContext | None = None, **behaviour):
    sim = SmscSimulator(behaviour=SmscBehaviour(**behaviour), tls=tls)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def submit_one(channel: SmppChannel) -> str:
    parts = to_parts(segment("Your order has shipped"), 1)
    (result,) = await channel.submit(SmsSubmission("SMtest", "+15005550006", "+14155550100", parts))
    assert result.outcome == PartOutcome.ACCEPTED, result
    return result.smsc_message_id


async def sent_and_acknowledged(channel: SmppChannel, sim: SmscSimulator, handler: Handler):
    """A message goes out, its receipt is stored and the SMSC hears so."""
    heard_before = len(handler.heard)
    await submit_one(channel)
    _, stored = await handler.next(heard_before + 1)
    stored.set_result(None)
    await until(lambda: sim.receipts_acknowledged == 1, "the acknowledgement")


def test_a_receipt_is_acknowledged_once_stored_not_before():
    async def scenario():
        handler = Handler()
        async with smsc(dlr_delay=0) as sim, bound(sim, handler) as channel:
            message_id = await submit_one(channel)
            heard, stored = await handler.next(1)
            assert isinstance(heard, ReceiptHeard)
            assert heard.receipt.message_id == message_id
            await settle()
            assert sim.receipts_acknowledged == 0
            stored.set_result(None)
            await until(lambda: sim.receipts_acknowledged == 1, "the acknowledgement")
            assert sim.deliveries_refused == 0

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("refuse_with", "outcome", "smsc_id"),
    [(None, PartOutcome.ACCEPTED, True), (wire.ESME_RINVDSTADR, PartOutcome.REJECTED, False)],
)
def test_an_answer_after_the_timeout_is_handed_on_once_as_what_became_of_the_part(
    refuse_with, outcome, smsc_id
):
    async def scenario():
        handler = Handler()
        behaviour = {"respond_after": 0.4, "dlr_delay": 5, "refuse_with": refuse_with}
        async with smsc(**behaviour) as sim, bound(sim, handler, response_timeout=0.1) as channel:
            parts = to_parts(segment("Your order has shipped"), 1)
            submission = SmsSubmission("SMlate", "+15005550006", "+14155550100", parts)
            (given_up,) = await channel.submit(submission)
            assert given_up.outcome == PartOutcome.AMBIGUOUS
            heard, recorded = await handler.next(1)
            recorded.set_result(None)
            assert isinstance(heard, AnsweredLate)
            assert (heard.connector, heard.reference) == ("smsc", "SMlate")
            assert (heard.result.sequence, heard.result.outcome) == (1, outcome)
            ids = [submit.message_id for submit in sim.accepted]
            assert [heard.result.smsc_message_id] == (ids if smsc_id else [None])
            await settle()
            assert len(handler.heard) == 1
            # The session went on: the next submit is answered in time, as itself.
            if refuse_with is None:
                sim.behaviour.respond_after = 0
                assert await submit_one(channel) == sim.accepted[-1].message_id

    asyncio.run(scenario())


def test_an_smsc_that_answers_every_submit_twice_has_each_part_accepted_once():
    """The second answer to a sequence already answered is dropped: it is no late answer,
    and no later submit takes it for its own."""

    async def scenario():
        handler = Handler()
        async with smsc(answer_twice=True, dlr_delay=5) as sim, bound(sim, handler) as channel:
            ids = [await submit_one(channel) for _ in range(5)]
            await settle()
            assert ids == [submit.message_id for submit in sim.accepted]
            assert len(set(ids)) == 5
            assert handler.heard == []  # nothing handed on as answered late

    asyncio.run(scenario())


def test_a_receipt_that_could_not_be_stored_is_offered_again():
    async def scenario():
        handler = Handler()
        async with smsc(dlr_delay=0) as sim, bound(sim, handler) as channel:
            message_id = await submit_one(channel)
            _, first = await handler.next(1)
            first.set_exception(ConnectionError("database unreachable"))
            await until(lambda: sim.deliveries_refused == 1, "ESME_RX_T_APPN")
            assert sim.receipts_acknowledged == 0
            heard, second = await handler.next(2)  # the SMSC's second offer
            assert heard.receipt.message_id == message_id
            second.set_result(None)
            await until(lambda: sim.receipts_acknowledged == 1, "the acknowledgement")

    asyncio.run(scenario())


def test_a_receipt_in_hand_when_the_channel_stops_comes_back_on_the_next_bind():
    async def scenario():
        async with smsc(dlr_delay=0) as sim:
            dying = Handler()
            async with bound(sim, dying) as channel:
                message_id = await submit_one(channel)
                await dying.next(1)  # never stored: the process "dies" holding it
            assert sim.receipts_acknowledged == 0
            restarted = Handler()
            async with bound(sim, restarted):
                heard, stored = await restarted.next(1)
                assert heard.receipt.message_id == message_id
                stored.set_result(None)
                await until(lambda: sim.receipts_acknowledged == 1, "the acknowledgement")
            assert sim.receipt_acks == [(message_id, 2)]

    asyncio.run(scenario())


def test_a_customers_text_is_acknowledged_once_stored():
    async def scenario():
        handler = Handler()
        async with smsc() as sim, bound(sim, handler):
            await sim.deliver_mo("14155550100", "15005550006", "STOP")
            heard, stored = await handler.next(1)
            assert heard == MessageHeard("smsc", HANDSET, OURS, "STOP", link=heard.link)
            await settle()
            assert sim.unacknowledged() == 1
            stored.set_result(None)
            await until(lambda: sim.unacknowledged() == 0, "the acknowledgement")
            assert len(handler.heard) == 1

    asyncio.run(scenario())


@pytest.mark.parametrize("delivers_with", ["message_payload", "data_sm"])
def test_a_customers_text_in_message_payload_or_a_data_sm_is_read_and_answered(delivers_with):
    async def scenario():
        handler = Handler()
        async with smsc(delivers_with=delivers_with) as sim, bound(sim, handler):
            await sim.deliver_mo("14155550100", "15005550006", "STOP")
            heard, stored = await handler.next(1)
            assert heard == MessageHeard("smsc", HANDSET, OURS, "STOP", link=heard.link)
            stored.set_result(None)
            await until(lambda: sim.unacknowledged() == 0, "the acknowledgement")
            assert sim.wrong_answers == 0  # a data_sm gets a data_sm_resp

    asyncio.run(scenario())


def test_an_smsc_that_stops_answering_enquire_link_is_left_and_bound_again(caplog):
    async def scenario():
        handler = Handler()
        options = {"enquire_link_interval": 0.1, "response_timeout": 0.3}
        async with smsc() as sim, bound(sim, handler, **options) as channel:
            await until(lambda: sim.enquire_links >= 2, "enquire_link while idle")
            sim.behaviour.answer_enquire_link = False
            await until(lambda: "no answer to enquire_link within 0.3s" in caplog.text, "end")
            sim.behaviour.answer_enquire_link = True
            await until(lambda: channel.binds == 2, "a new bind")
            await submit_one(channel)

    asyncio.run(scenario())


def test_a_pdu_that_cannot_be_framed_ends_the_session_and_sending_goes_on(caplog):
    async def scenario():
        handler = Handler()
        async with smsc(dlr_delay=0) as sim, bound(sim, handler) as channel:
            # command_length 8: shorter than a header, so nothing after it can be read
            await sim.send_raw((8).to_bytes(4, "big") + bytes(12))
            await until(lambda: channel.binds == 2, "a new bind")
            assert sim.generic_nacks_received == 1
            assert "unreadable PDU from the SMSC (command_length 8)" in caplog.text
            await sent_and_acknowledged(channel, sim, handler)

    asyncio.run(scenario())


def test_an_undecodable_deliver_sm_is_refused_for_good_and_the_session_goes_on(caplog):
    async def scenario():
        handler = Handler()
        async with smsc(dlr_delay=0) as sim, bound(sim, handler) as channel:
            await sim.send_raw(wire.pdu(wire.DELIVER_SM, 0, 77, b"\x00"))  # a body cut short
            await until(lambda: "undecodable deliver_sm refused" in caplog.text, "the refusal")
            await sent_and_acknowledged(channel, sim, handler)
            assert channel.binds == 1
            assert [
                heard for heard, _ in handler.heard if not isinstance(heard, ReceiptHeard)
            ] == []

    asyncio.run(scenario())


def test_an_undecodable_data_sm_is_refused_for_good_and_the_session_goes_on(caplog):
    async def scenario():
        handler = Handler()
        async with smsc(dlr_delay=0) as sim, bound(sim, handler) as channel:
            await sim.send_raw(wire.pdu(wire.DATA_SM, 0, 78, b"\x00\x01"))  # cut short
            await until(lambda: "undecodable data_sm refused" in caplog.text, "the refusal")
            await sent_and_acknowledged(channel, sim, handler)
            assert channel.binds == 1
            assert sim.generic_nacks_received == 0

    asyncio.run(scenario())


def test_a_texts_answer_is_confirmed_once_a_request_written_after_it_is_answered():
    async def scenario():
        handler, confirmed = Handler(), []
        async with smsc() as sim, bound(sim, handler):
            await sim.deliver_mo("14155550100", "15005550006", "HELP")
            heard, stored = await handler.next(1)
            stored.set_result(lambda: confirmed.append(heard.text))
            await until(lambda: confirmed, "the confirmation")
            assert sim.enquire_links == 1 and sim.unacknowledged() == 0

    asyncio.run(scenario())


def test_an_answer_the_smsc_never_shows_it_read_is_never_confirmed():
    async def scenario():
        handler, confirmed = Handler(), []
        async with smsc(answer_enquire_link=False) as sim, bound(sim, handler):
            await sim.deliver_mo("14155550100", "15005550006", "HELP")
            _, stored = await handler.next(1)
            stored.set_result(lambda: confirmed.append(1))
            await until(lambda: sim.enquire_links == 1, "the enquire_link after the answer")
            await settle()
            assert confirmed == []

    asyncio.run(scenario())


def test_a_text_whose_answer_the_link_lost_comes_again_on_another_link():
    async def scenario():
        handler, confirmed = Handler(), []
        async with smsc(lose_text_answers=1) as sim, bound(sim, handler):
            await sim.deliver_mo("14155550100", "15005550006", "HELP")
            first, stored = await handler.next(1)
            stored.set_result(lambda: confirmed.append("first"))
            again, stored = await handler.next(2)
            stored.set_result(lambda: confirmed.append("again"))
            await until(lambda: confirmed, "the confirmation")
            assert (again.text, again.source) == (first.text, first.source)
            assert again.link != first.link
            assert confirmed == ["again"] and sim.binds == 2

    asyncio.run(scenario())
