"""The MM7 channel against the MMSC simulator over real HTTP: answers, refusals, a relay that
never answers, wrong credentials, garbage; reports and inbound messages posted back."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import Response

from smsvia.channels.mm7 import Mm7Channel, Mm7Config, MmsOutcome
from smsvia.domain import mm7
from smsvia.sim.embedded import EmbeddedServer
from smsvia.sim.mmsc import MmscBehaviour, MmscSimulator
from tests.processes import free_port

PICTURE = mm7.Attachment("image/jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 2000, "box.jpg")


class Vasp:
    """Our side's URL, as the relay sees it: it keeps what it was sent and answers 1000."""

    def __init__(self) -> None:
        self.heard: list[mm7.DeliveryReport | mm7.Deliver] = []
        self.app = FastAPI()

        @self.app.post("/mm7")
        async def heard(request: Request) -> Response:
            read = mm7.parse_relay_request(
                await request.body(), request.headers.get("content-type", "")
            )
            self.heard.append(read)
            kind = "DeliveryReportRsp" if isinstance(read, mm7.DeliveryReport) else "DeliverRsp"
            return Response(mm7.answer(kind, read.transaction_id), media_type="text/xml")


def run(scenario, **behaviour):
    async def main():
        vasp = Vasp()
        server, port = await EmbeddedServer.start(vasp.app, "127.0.0.1", 0)
        mmsc = MmscSimulator(
            MmscBehaviour(vasp_url=f"http://127.0.0.1:{port}/mm7", hang=1.0, **behaviour)
        )
        await mmsc.start()
        try:
            return await scenario(mmsc, vasp)
        finally:
            await mmsc.stop()
            await server.stop()

    return asyncio.run(main())


def channel(mmsc: MmscSimulator, **config) -> Mm7Channel:
    return Mm7Channel("mmsc", Mm7Config(url=mmsc.url, vasp_id="shop", **config))


def test_an_accepted_mms_reaches_the_relay_and_is_reported_retrieved():
    async def scenario(mmsc, vasp):
        mms = channel(mmsc)
        result = await mms.send("+15005550006", "+12125551000", "Your box", (PICTURE,))
        await mms.close()
        for _ in range(100):
            if vasp.heard:
                break
            await asyncio.sleep(0.02)
        return result, mmsc.records.accepted, vasp.heard

    result, accepted, heard = run(scenario)
    assert result.outcome == MmsOutcome.ACCEPTED and result.message_id
    [submit] = accepted
    assert (submit.text, submit.attachments, submit.vasp_id) == ("Your box", (PICTURE,), "shop")
    assert heard == [
        mm7.DeliveryReport(
            heard[0].transaction_id, result.message_id, "+12125551000", "+15005550006", "Retrieved"
        )
    ]


def test_a_refusing_relay_gives_its_status():
    async def scenario(mmsc, vasp):
        mms = channel(mmsc)
        try:
            return await mms.send("+15005550006", "+12125551044", "x", (PICTURE,))
        finally:
            await mms.close()

    result = run(scenario)
    assert (result.outcome, result.status) == (MmsOutcome.REFUSED, 3002)


def test_a_relay_that_never_answers_leaves_the_message_ambiguous():
    async def scenario(mmsc, vasp):
        mms = channel(mmsc, timeout=0.3)
        try:
            return await mms.send("+15005550006", "+12125551088", "x", (PICTURE,))
        finally:
            await mms.close()

    result = run(scenario)
    assert result.outcome == MmsOutcome.AMBIGUOUS and "no answer in time" in result.detail


def test_basic_auth_is_sent_and_wrong_credentials_are_refused():
    async def scenario(mmsc, vasp):
        right = channel(mmsc, username="shop", password="pw")
        wrong = channel(mmsc, username="shop", password="nope")
        try:
            return (
                await right.send("+15005550006", "+12125551000", "x", ()),
                await wrong.send("+15005550006", "+12125551000", "x", ()),
            )
        finally:
            await right.close()
            await wrong.close()

    good, bad = run(scenario, username="shop", password="pw")
    assert good.outcome == MmsOutcome.ACCEPTED
    assert bad.outcome == MmsOutcome.REFUSED and "401" in bad.detail


def test_an_unreachable_relay_is_tried_again_later():
    async def main():
        mms = Mm7Channel(
            "gone", Mm7Config(url=f"http://127.0.0.1:{free_port()}/mm7", vasp_id="shop")
        )
        try:
            return await mms.send("+15005550006", "+12125551000", "x", ())
        finally:
            await mms.close()

    assert asyncio.run(main()).outcome == MmsOutcome.RETRY


def test_garbage_in_place_of_an_answer_is_ambiguous_and_a_503_is_retried():
    garbage = FastAPI()
    answers = iter([(200, b"<html>hello</html>"), (503, b"busy")])

    @garbage.post("/mm7")
    async def answer() -> Response:
        status, body = next(answers)
        return Response(body, status_code=status, media_type="text/html")

    async def main():
        server, port = await EmbeddedServer.start(garbage, "127.0.0.1", 0)
        mms = Mm7Channel("junk", Mm7Config(url=f"http://127.0.0.1:{port}/mm7", vasp_id="s"))
        try:
            return [await mms.send("+15005550006", "+12125551000", "x", ()) for _ in range(2)]
        finally:
            await mms.close()
            await server.stop()

    first, second = asyncio.run(main())
    assert first.outcome == MmsOutcome.AMBIGUOUS
    assert second.outcome == MmsOutcome.RETRY


def test_a_handsets_mms_is_posted_to_the_sender_with_its_media():
    async def scenario(mmsc, vasp):
        answered = await mmsc.handset_sends(
            "+12125551000", "+15005550006", "is this in M?", (PICTURE,)
        )
        return answered, vasp.heard

    answered, heard = run(scenario)
    assert answered
    [deliver] = heard
    assert isinstance(deliver, mm7.Deliver)
    assert (deliver.sender, deliver.recipient, deliver.text, deliver.attachments) == (
        "+12125551000",
        "+15005550006",
        "is this in M?",
        (PICTURE,),
    )
