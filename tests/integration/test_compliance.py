"""Send-time compliance on both databases: consent for marketing, quiet hours, caps, STOP."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from smsvia.channels.rcs import RbmChannel, RcsConfig
from smsvia.dispatch.rcs import RcsFlow
from smsvia.dispatch.worker import Worker
from smsvia.domain.consent import ConsentKind
from smsvia.services import consent, senders
from smsvia.services.compliance import FrequencyCapReached, NoMarketingConsent
from smsvia.services.consent import RecipientUnsubscribed
from smsvia.services.contacts import save_contact
from smsvia.services.delivery import Tracker
from smsvia.services.message_views import get_message
from smsvia.services.messages import SendRequest, send_message, send_messages
from smsvia.sim.rbm import RbmBehaviour
from smsvia.store.models import Account, Message
from tests.integration.rcs_stack import ThreadedRbm
from tests.integration.scenario import BOOK

SMSVIA = str(Path(sys.executable).parent / "smsvia")
MIAMI = "+13055550100"  # Florida: 08:00-20:00, at most 3 a day
MANHATTAN = "+12125550100"  # New York: the federal rule only
NEW_YORK = ZoneInfo("America/New_York")
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=NEW_YORK).astimezone(UTC)


def ledger(backend, tenant, phone, *kinds: ConsentKind, at: datetime = NOON) -> None:
    async def write():
        async with backend.store.db.transaction() as session:
            for kind in kinds:
                await consent.append(
                    session,
                    backend.store,
                    account_id=tenant.account_id,
                    phone=phone,
                    kind=kind,
                    source="import",
                    evidence={"file": "shop.csv"},
                    now=at - timedelta(days=1),
                )

    backend.run(write())


def send(backend, tenant, to, *, category="marketing", at=NOON, body="20% off today"):
    request = SendRequest(to=to, sender=tenant.sender, body=body, category=category)
    return backend.run(
        send_message(backend.store, tenant.principal, request, price_book=BOOK, clock=lambda: at)
    )


def timeline(backend, tenant, sid) -> dict[str, str]:
    view = backend.run(get_message(backend.store, tenant.principal, sid, with_timeline=True))
    return {entry.event: entry.detail for entry in view.timeline}


def test_marketing_without_express_consent_is_refused_and_transactional_is_not(backend):
    shop = backend.tenant()
    with pytest.raises(NoMarketingConsent) as refused:
        send(backend, shop, MANHATTAN)
    assert refused.value.code == 100051 and refused.value.field == "category"
    assert send(backend, shop, MANHATTAN, category="transactional").status == "queued"
    assert send(backend, shop, MANHATTAN, category=None).status == "queued"

    # START alone is not consent to marketing; an import with evidence is.
    ledger(backend, shop, MANHATTAN, ConsentKind.OPTED_BACK_IN)
    with pytest.raises(NoMarketingConsent, match="only a START"):
        send(backend, shop, MANHATTAN)
    ledger(backend, shop, MANHATTAN, ConsentKind.IMPORTED)
    message = send(backend, shop, MANHATTAN)
    assert message.status == "queued"
    decided = timeline(backend, shop, message.sid)
    assert decided["consent"].startswith("marketing consent: imported at")
    assert "within allowed hours (12:00 America/New_York)" in decided["quiet_hours"]
    assert decided["frequency_cap"] == "1 marketing message(s) in 24 hours; limit no cap"


def test_stop_refuses_marketing_and_transactional_alike_until_start(backend):
    shop = backend.tenant()
    ledger(backend, shop, MIAMI, ConsentKind.IMPORTED, ConsentKind.OPTED_OUT)
    for category in ("marketing", "transactional"):
        with pytest.raises(RecipientUnsubscribed):
            send(backend, shop, MIAMI, category=category)
    ledger(backend, shop, MIAMI, ConsentKind.OPTED_BACK_IN)
    assert send(backend, shop, MIAMI).status == "queued"  # the earlier import stands again


def test_a_florida_evening_marketing_text_is_rescheduled_to_eight_not_dropped(backend):
    shop = backend.tenant()
    ledger(backend, shop, MIAMI, ConsentKind.IMPORTED)
    evening = datetime(2026, 11, 26, 20, 30, tzinfo=NEW_YORK).astimezone(UTC)
    message = send(backend, shop, MIAMI, at=evening)
    assert message.status == "scheduled"
    decided = timeline(backend, shop, message.sid)
    assert "rescheduled from 2026-11-27 01:30 UTC to 2026-11-27 13:00 UTC" in decided["quiet_hours"]
    assert "Florida 08:00-20:00 (Fla. Stat." in decided["quiet_hours"]
    # An order update at the same moment goes now.
    assert send(backend, shop, MIAMI, category="transactional", at=evening).status == "queued"


def test_florida_caps_marketing_at_three_a_day_and_the_account_can_cap_everyone(backend):
    shop = backend.tenant()
    ledger(backend, shop, MIAMI, ConsentKind.IMPORTED)
    ledger(backend, shop, MANHATTAN, ConsentKind.IMPORTED)
    for hour in range(3):
        send(backend, shop, MIAMI, at=NOON + timedelta(hours=hour))
    with pytest.raises(FrequencyCapReached) as capped:
        send(backend, shop, MIAMI, at=NOON + timedelta(hours=3))
    assert capped.value.code == 100052 and "Florida allows 3" in capped.value.message
    # A day after the first, there is room again; order updates never count.
    send(backend, shop, MIAMI, category="transactional", at=NOON + timedelta(hours=4))
    assert send(backend, shop, MIAMI, at=NOON + timedelta(hours=24, minutes=1)).status in (
        "queued",
        "scheduled",
    )
    for hour in range(4):  # New York has no cap of its own
        send(backend, shop, MANHATTAN, at=NOON + timedelta(hours=hour))

    async def cap_account():
        async with backend.store.db.transaction() as session:
            await session.execute(
                update(Account).where(Account.id == shop.account_id).values(marketing_cap_24h=5)
            )

    backend.run(cap_account())
    send(backend, shop, MANHATTAN, at=NOON + timedelta(hours=5))
    with pytest.raises(FrequencyCapReached, match="account quiet hours allows 5"):
        send(backend, shop, MANHATTAN, at=NOON + timedelta(hours=6))


def test_bulk_sends_apply_every_check_and_count_the_cap_inside_the_batch(backend):
    shop = backend.tenant()
    ledger(backend, shop, MIAMI, ConsentKind.IMPORTED)
    requests = [
        SendRequest(to=MIAMI, sender=shop.sender, body=f"Deal {n}", category="marketing")
        for n in range(4)
    ] + [SendRequest(to=MANHATTAN, sender=shop.sender, body="Deal", category="marketing")]
    results = backend.run(
        send_messages(backend.store, shop.principal, requests, price_book=BOOK, clock=lambda: NOON)
    )
    assert [type(r).__name__ for r in results[3:]] == ["FrequencyCapReached", "NoMarketingConsent"]
    assert all(isinstance(sid, str) and sid.startswith("SM") for sid in results[:3])
    assert timeline(backend, shop, results[2])["frequency_cap"].startswith("3 marketing")


def test_accounts_update_sets_quiet_hours_caps_and_keyword_texts(backend, settings):
    shop = backend.tenant()
    env = {
        **os.environ,
        "SMSVIA_DATABASE_URL": settings.database_url,
        "SMSVIA_MASTER_KEY": settings.master_key.get_secret_value(),
        "SMSVIA_DATA_DIR": str(settings.data_dir),
    }

    def update(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SMSVIA, "accounts", "update", shop.sid, *options],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    done = update("--quiet-hours", "20:00-10:00", "--marketing-cap", "2", "--help-text", "Call us")
    assert done.returncode == 0, done.stderr
    for bad, why in (
        (("--quiet-hours", "25:00-08:00"), "not a time of day"),
        (("--marketing-cap", "-1"), "0 (no cap) or more"),
        ((), "nothing to change"),
    ):
        refused = update(*bad)
        assert refused.returncode != 0 and why in refused.stderr
        assert "Traceback" not in refused.stderr

    async def settings_of():
        async with backend.store.db.sessions() as session:
            account = await session.get(Account, shop.account_id)
            return account.quiet_hours, account.marketing_cap_24h, account.help_text

    assert backend.run(settings_of()) == ("20:00-10:00", 2, "Call us")
    ledger(backend, shop, MANHATTAN, ConsentKind.IMPORTED)
    nine = datetime(2026, 11, 26, 9, 0, tzinfo=NEW_YORK).astimezone(UTC)
    assert send(backend, shop, MANHATTAN, at=nine).status == "scheduled"  # quiet until 10:00


def test_a_marketing_text_that_waited_past_the_evening_is_held_by_the_worker(backend):
    """Accepted at 19:55 in Florida, claimed at 20:05 (a backlog): not sent at night."""
    shop = backend.tenant()
    ledger(backend, shop, MIAMI, ConsentKind.IMPORTED)
    accepted_at = datetime(2026, 11, 26, 19, 55, tzinfo=NEW_YORK).astimezone(UTC)
    marketing = send(backend, shop, MIAMI, at=accepted_at)
    order = send(backend, shop, MIAMI, category="transactional", at=accepted_at)
    assert marketing.status == "queued"
    late = accepted_at + timedelta(minutes=10)
    worker = Worker(backend.store, {}, Tracker(backend.store), clock=lambda: late)
    assert backend.run(worker.run_once()) == 2

    async def outbox_of(sid):
        async with backend.store.db.sessions() as session:
            message = await session.scalar(select(Message).where(Message.sid == sid))
            return message.status, message.due_at, message.lease_owner

    morning = datetime(2026, 11, 27, 8, 0, tzinfo=NEW_YORK).astimezone(UTC)
    assert backend.run(outbox_of(marketing.sid)) == ("queued", morning, None)
    held = timeline(backend, shop, marketing.sid)["quiet_hours"]
    assert held.startswith("quiet hours: held until 2026-11-27 13:00 UTC (Fri 08:00")
    # The order update went on to its connector (none runs here, so it waits for one).
    assert "its connector is not running" in timeline(backend, shop, order.sid)["waiting"]


def test_a_contacts_own_time_zone_decides_the_hour(backend):
    """A Manhattan number whose owner lives in Los Angeles: 10:00 in New York is 07:00 there."""
    shop = backend.tenant()
    backend.run(
        save_contact(
            backend.store,
            shop.principal,
            {"phone": MANHATTAN, "time_zone": "America/Los_Angeles"},
        )
    )
    ledger(backend, shop, MANHATTAN, ConsentKind.IMPORTED)
    ten = datetime(2026, 11, 26, 10, 0, tzinfo=NEW_YORK).astimezone(UTC)
    message = send(backend, shop, MANHATTAN, at=ten)
    assert message.status == "scheduled"
    assert (
        "to 2026-11-26 16:00 UTC (Thu 08:00 America/Los_Angeles)"
        in timeline(backend, shop, message.sid)["quiet_hours"]
    )


def test_an_rcs_marketing_text_falling_back_to_sms_at_night_is_held_too(backend):
    """The RCS try ended as the evening did: its SMS fallback waits for the morning."""
    rbm = ThreadedRbm(RbmBehaviour())
    try:
        shop = backend.tenant()
        settings = senders.RcsSettings(rbm.base_url, "shop-agent")
        backend.run(senders.add_rcs_connector(backend.store, "rbm", settings, "token"))
        backend.run(
            senders.add_number(
                backend.store, shop.sid, "+15005550008", connector="smsc1", rcs_connector="rbm"
            )
        )
        no_rcs = "+13055550101"  # Florida; an odd last digit: not RCS-capable (the simulator)
        ledger(backend, shop, no_rcs, ConsentKind.IMPORTED)
        accepted_at = datetime(2026, 11, 26, 19, 58, tzinfo=NEW_YORK).astimezone(UTC)
        request = SendRequest(
            to=no_rcs, sender="+15005550008", body="20% off today", category="marketing"
        )
        sent = backend.run(
            send_message(
                backend.store, shop.principal, request, price_book=BOOK, clock=lambda: accepted_at
            )
        )
        assert sent.channel == "rcs"

        async def rcs_connector_id():
            async with backend.store.db.sessions() as session:
                return await session.scalar(select(Message.rcs_connector_id))

        channel = RbmChannel("rbm", RcsConfig(rbm.base_url, "shop-agent"))
        tracker = Tracker(backend.store)
        flow = RcsFlow(backend.store, {backend.run(rcs_connector_id()): channel}, tracker)
        now = [accepted_at + timedelta(minutes=1)]
        worker = Worker(backend.store, {}, tracker, rcs=flow, clock=lambda: now[0])
        assert backend.run(worker.run_once()) == 1  # 19:59: not capable, SMS instead
        now[0] = accepted_at + timedelta(minutes=7)
        assert backend.run(worker.run_once()) == 1  # 20:05: the SMS is due, the hour is not
        backend.run(channel.close())
    finally:
        rbm.stop()

    steps = timeline(backend, shop, sent.sid)
    assert steps["queued"].startswith("Sent as SMS via server: not rcs capable")
    assert steps["quiet_hours"].startswith("quiet hours: held until 2026-11-27 13:00 UTC")
    view = backend.run(get_message(backend.store, shop.principal, sent.sid))
    assert (view.status, view.channel) == ("queued", "sms")
