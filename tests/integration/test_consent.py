"""STOP, START and HELP from a handset, over real SMPP, and the ledger they leave."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select, update

from smsvia.domain.consent import ConsentKind
from smsvia.services import senders
from smsvia.services.consent import RecipientUnsubscribed, append, verify
from smsvia.services.messages import SendRequest, send_message, send_messages
from smsvia.store.marketing_models import ConsentEvent
from tests.integration.scenario import BOOK, Scenario

HANDSET = "+14155550123"
SMSVIA = str(Path(sys.executable).parent / "smsvia")


async def handset_says(sc: Scenario, text: str) -> None:
    await sc.sim.deliver_mo(HANDSET, sc.shop.sender, text)


async def wait_until(condition, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def replies(sc: Scenario) -> list[str]:
    """What the SMSC accepted for the handset, decoded."""
    return [
        submit.short_message.decode("latin-1")
        for submit in sc.sim.accepted
        if submit.destination.lstrip("+") == HANDSET.lstrip("+")
    ]


def test_stop_blocks_the_next_send_with_21610_and_is_confirmed_once(backend, callback_receiver):
    async def run():
        async with Scenario(backend, sms_url=callback_receiver.url + "/inbound") as sc:
            await handset_says(sc, " Stop ")
            await wait_until(lambda: replies(sc) and callback_receiver.received)
            with pytest.raises(RecipientUnsubscribed) as refused:
                await sc.send(HANDSET, body="20% off today")
            bulk = await send_messages(
                backend.store,
                sc.shop.principal,
                [SendRequest(to=HANDSET, sender=sc.shop.sender, body="Sale")],
                price_book=BOOK,
            )
            return refused.value, bulk, replies(sc), callback_receiver.received[0].params

    refused, bulk, sent, forwarded = backend.run(run())
    assert refused.code == 21610
    assert isinstance(bulk[0], RecipientUnsubscribed)
    assert len(sent) == 1 and "unsubscribed" in sent[0]
    assert forwarded["Body"] == " Stop " and forwarded["OptOutType"] == "STOP"
    assert forwarded["From"] == HANDSET


@pytest.mark.parametrize(
    ("written", "ton"), [("4155550123", 2), ("14155550123", 0), ("0014155550123", 0)]
)
def test_stop_from_a_number_written_nationally_opts_the_customer_out(backend, written, ton):
    """An SMSC that writes the handset as a national number (TON 2) or with the exit code:
    the STOP is the customer's, +14155550123, and holds for their number."""

    async def run():
        async with Scenario(backend) as sc:
            await sc.sim.deliver_mo(written, sc.shop.sender, "STOP", source_ton=ton)
            await wait_until(lambda: len(replies(sc)) == 1)
            with pytest.raises(RecipientUnsubscribed) as refused:
                await sc.send(HANDSET, body="20% off today")
            return refused.value.code

    assert backend.run(run()) == 21610


@pytest.mark.parametrize("ours", ["5005550006", "15005550006"])
def test_stop_to_our_number_written_nationally_opts_the_customer_out(backend, ours):
    """An SMSC that writes both numbers nationally (TON 2), ours with or without its trunk
    prefix: the text is to +15005550006, and the handset's number is read in its country."""

    async def run():
        async with Scenario(backend) as sc:
            await sc.sim.deliver_mo("4155550123", ours, "STOP", source_ton=2, destination_ton=2)
            await wait_until(lambda: len(replies(sc)) == 1)
            with pytest.raises(RecipientUnsubscribed) as refused:
                await sc.send(HANDSET, body="20% off today")
            return refused.value.code

    assert backend.run(run()) == 21610


def test_a_national_number_that_is_two_of_ours_is_not_guessed(backend, caplog):
    """+15005550006 and +445005550006 on one connector are both 5005550006 at home: a text
    to that is nobody's for sure, and is dropped with a warning rather than given to one."""

    async def run():
        async with Scenario(backend) as sc:
            await senders.add_number(
                backend.store, sc.shop.sid, "+445005550006", connector=sc.shop.connector
            )
            await sc.sim.deliver_mo("4155550123", "5005550006", "STOP", destination_ton=2)
            await wait_until(lambda: sc.sim.unacknowledged() == 0)
            answered = replies(sc)
            message = await sc.send(HANDSET, body="Your order shipped")
            return answered, message.status

    sent, status = backend.run(run())
    assert status == "queued" and sent == []
    assert "+15005550006 and +445005550006 written nationally; dropped" in caplog.text


def test_start_after_stop_lets_messages_through_again(backend):
    async def run():
        async with Scenario(backend) as sc:
            await handset_says(sc, "STOP")
            await wait_until(lambda: len(replies(sc)) == 1)
            await handset_says(sc, "start")
            await wait_until(lambda: len(replies(sc)) == 2)
            message = await sc.send(HANDSET, body="Welcome back")
            return await sc.wait_for(message.sid, "delivered")

    assert backend.run(run()).status == "delivered"


def test_help_answers_with_the_help_text_and_changes_nothing(backend):
    async def run():
        async with Scenario(backend) as sc:
            await handset_says(sc, "help")
            await wait_until(lambda: replies(sc))
            message = await sc.send(HANDSET, body="Your order shipped")
            return replies(sc), message.status

    sent, status = backend.run(run())
    assert sent == ["Reply STOP to unsubscribe. Msg & data rates may apply."]
    assert status == "queued"


def test_a_sentence_with_stop_in_it_is_just_a_message(backend, callback_receiver):
    async def run():
        async with Scenario(backend, sms_url=callback_receiver.url + "/inbound") as sc:
            await handset_says(sc, "Please don't stop the sale")
            await wait_until(lambda: callback_receiver.received)
            message = await sc.send(HANDSET, body="It goes on")
            return replies(sc), callback_receiver.received[0].params, message.status

    sent, forwarded, status = backend.run(run())
    assert status == "queued" and "OptOutType" not in forwarded
    assert sent == []


def test_editing_a_ledger_entry_is_detected(backend):
    async def run():
        async with Scenario(backend) as sc:
            for sent, word in enumerate(("STOP", "START", "STOP"), start=1):
                await handset_says(sc, word)
                await wait_until(lambda sent=sent: len(replies(sc)) == sent)
        intact = await verify(backend.store)
        async with backend.store.db.transaction() as session:
            await session.execute(
                update(ConsentEvent)
                .where(ConsentEvent.kind == "opted_back_in")
                .values(kind="opted_out")
            )
        edited = await verify(backend.store)
        async with backend.store.db.transaction() as session:
            await session.execute(delete(ConsentEvent).where(ConsentEvent.kind == "opted_out"))
        deleted = await verify(backend.store)
        return intact, edited, deleted

    intact, edited, deleted = backend.run(run())
    assert intact == (3, [])
    assert [b.why for b in edited[1]] == ["its fields were changed after it was written"]
    assert deleted[0] == 0 or deleted[1]


def test_consent_verify_command_fails_on_a_broken_chain(backend, settings):
    async def run():
        async with Scenario(backend) as sc:
            await handset_says(sc, "STOP")
            await wait_until(lambda: replies(sc))
            await handset_says(sc, "START")
            await wait_until(lambda: len(replies(sc)) == 2)

    backend.run(run())
    env = {
        **os.environ,
        "SMSVIA_DATABASE_URL": settings.database_url,
        "SMSVIA_MASTER_KEY": settings.master_key.get_secret_value(),
        "SMSVIA_DATA_DIR": str(settings.data_dir),
    }
    ok = subprocess.run([SMSVIA, "consent", "verify"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "2 entries verified" in ok.stdout

    async def remove_first():
        async with backend.store.db.transaction() as session:
            first = await session.scalar(select(func.min(ConsentEvent.id)))
            await session.execute(delete(ConsentEvent).where(ConsentEvent.id == first))

    backend.run(remove_first())
    broken = subprocess.run([SMSVIA, "consent", "verify"], capture_output=True, text=True, env=env)
    assert broken.returncode == 2
    assert "changed or removed" in broken.stderr and "Traceback" not in broken.stderr


def test_stop_fails_what_still_waits_in_the_outbox_with_21610(backend):
    # Tomorrow evening, so the morning the message waits for is still ahead of the worker.
    los_angeles = ZoneInfo("America/Los_Angeles")
    tomorrow = datetime.now(los_angeles) + timedelta(days=1)
    evening = tomorrow.replace(hour=22, minute=0, second=0, microsecond=0)

    async def run():
        async with Scenario(backend) as sc:
            async with backend.store.db.transaction() as session:
                await append(
                    session,
                    backend.store,
                    account_id=sc.shop.account_id,
                    phone=HANDSET,
                    kind=ConsentKind.IMPORTED,
                    source="import",
                    evidence={"file": "shop.csv"},
                    now=evening,
                )
            request = SendRequest(
                to=HANDSET, sender=sc.shop.sender, body="Tomorrow: -20%", category="marketing"
            )
            waiting = await send_message(
                backend.store, sc.shop.principal, request, price_book=BOOK, clock=lambda: evening
            )
            assert waiting.status == "scheduled"
            await handset_says(sc, "STOP")
            failed = await sc.wait_for(waiting.sid, "failed")
            await wait_until(lambda: len(replies(sc)) == 1)
            return failed, replies(sc)

    failed, sent = backend.run(run())
    assert failed.error_code == 21610
    assert failed.timeline[-1].detail == "the recipient opted out (STOP) before it was sent"
    assert len(sent) == 1 and "unsubscribed" in sent[0]  # only the confirmation
