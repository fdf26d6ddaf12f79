"""A worker that dies in the middle of an MMS, on both databases: the next one never sends it
twice. An intent with no answer is ambiguous (left `sent`, nothing more goes out); a message
whose intent was never written (the worker died fetching its media) goes out once."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image
from sqlalchemy import insert, update

from smsvia.channels.mm7 import Mm7Channel, Mm7Config
from smsvia.dispatch.worker import Worker, WorkerConfig
from smsvia.services import accounts, senders
from smsvia.services.clock import utcnow
from smsvia.services.delivery import Tracker
from smsvia.services.media import MediaPipeline
from smsvia.services.messages import SendRequest, send_message
from smsvia.sim.mmsc import MmscSimulator
from smsvia.store import senders as sender_queries
from smsvia.store.models import Message, MessagePart
from tests.integration.mms_stack import PictureHost
from tests.integration.scenario import BOOK

US = "+12125551000"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


async def shop_with_mmsc(backend, mmsc: MmscSimulator):
    created = await accounts.create_account(backend.store, "shop")
    smpp = senders.SmppSettings("127.0.0.1", 9, "smsvia")
    await senders.add_smpp_connector(backend.store, "smsc", smpp, "secret")
    await senders.add_mm7_connector(
        backend.store, "mmsc", senders.Mm7Settings(mmsc.url, "shop"), None
    )
    await senders.add_number(
        backend.store, created.sid, "+15005550006", connector="smsc", mms_connector="mmsc"
    )
    async with backend.store.db.sessions() as session:
        mm7_id = (await sender_queries.connector_by_name(session, "mmsc")).id
    return created, mm7_id


def crashed_worker_run(backend, *, intent_written: bool) -> tuple[dict, list]:
    """Queue an MMS, leave it as a worker that died would, run another worker once."""
    pictures = PictureHost()
    url = pictures.put("/box.jpg", "image/jpeg", jpeg())

    async def scenario():
        mmsc = MmscSimulator()
        await mmsc.start()
        try:
            created, mm7_id = await shop_with_mmsc(backend, mmsc)
            return await _run(backend, mmsc, created, mm7_id, url, intent_written)
        finally:
            await mmsc.stop()

    try:
        return backend.run(scenario())
    finally:
        pictures.close()


async def _run(backend, mmsc, created, mm7_id, url, intent_written):
    from smsvia.services.accounts import Authenticator

    principal = await Authenticator(backend.store).authenticate(created.sid, created.secret)
    view = await send_message(
        backend.store,
        principal,
        SendRequest(to=US, sender="+15005550006", body="Your box", media_urls=[url]),
        price_book=BOOK,
        allow_private_urls=True,
    )
    long_ago = utcnow() - timedelta(minutes=10)
    async with backend.store.db.transaction() as session:
        message_id = await session.scalar(
            update(Message)
            .where(Message.sid == view.sid)
            .values(
                status="sending",
                lease_owner="dead-worker",
                lease_expires_at=long_ago,
                due_at=long_ago,
                attempts=1,
            )
            .returning(Message.id)
        )
        if intent_written:
            await session.execute(
                insert(MessagePart).values(
                    message_id=message_id,
                    sequence=0,
                    connector_id=mm7_id,
                    status="sending",
                )
            )
    channel = Mm7Channel("mmsc", Mm7Config(url=mmsc.url, vasp_id="shop"))
    worker = Worker(
        backend.store,
        {},
        Tracker(backend.store),
        config=WorkerConfig(poll_interval=0.05),
        mms_channels={mm7_id: channel},
        media=MediaPipeline(backend.store, allow_private=True),
    )
    try:
        assert await worker.run_once() == 1
    finally:
        await channel.close()
    async with backend.store.db.sessions() as session:
        row = await session.get(Message, message_id)
        state = {"status": row.status, "channel": row.channel, "lease": row.lease_owner}
    return state, list(mmsc.records.accepted)


def test_an_mms_whose_intent_was_written_is_never_sent_again(backend):
    state, accepted = crashed_worker_run(backend, intent_written=True)
    assert state == {"status": "sent", "channel": "mms", "lease": None}
    assert accepted == []


def test_an_mms_whose_worker_died_before_the_intent_goes_out_once(backend):
    state, accepted = crashed_worker_run(backend, intent_written=False)
    assert (state["status"], state["channel"]) == ("sent", "mms")
    assert [submit.recipient for submit in accepted] == [US]
