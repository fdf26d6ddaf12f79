"""Campaigns on both databases: preview, fan-out to a real SMSC simulator, budget, local
send times, A/B, pause/resume/cancel, a crash mid fan-out, and the API's refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update

from smsvia.domain.consent import ConsentKind
from smsvia.services import campaigns, consent, inbound
from smsvia.services.campaign_preview import preview
from smsvia.services.compliance import load_rules
from smsvia.services.contacts import save_contact
from smsvia.services.delivery import Tracker
from smsvia.services.fanout import Fanout
from smsvia.services.segments import create_segment
from smsvia.store import senders as sender_queries
from smsvia.store.marketing_models import Campaign, Contact
from smsvia.store.models import Message
from tests.integration.scenario import BOOK, Scenario
from tests.processes import daytime_zone

RULES = load_rules()
EVIDENCE = {"consent": "yes", "consent_date": "2026-10-01", "consent_source": "checkout"}
# 14:00 in New York, 11:00 in Los Angeles: inside every quiet-hours window.
NOON = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)


def clock_at(moment: datetime):
    now = [moment]

    def clock() -> datetime:
        return now[0]

    clock.now = now  # type: ignore[attr-defined]
    return clock


async def shop_contacts(
    backend, tenant, count: int = 12, *, opted_in: int = 10, time_zone: str | None = None
) -> list[str]:
    """Contacts tagged vip; the first `opted_in` with consent to marketing."""
    sids = []
    for n in range(count):
        values = {
            "phone": f"+1212555{n:04d}",
            **({"time_zone": time_zone} if time_zone else {}),
            "first_name": ["Ada", "Grace", "Zoë"][n % 3],
            "tags": "vip",
            "tier": ["gold", "silver"][n % 2],
            **(EVIDENCE if n < opted_in else {}),
        }
        view, _ = await save_contact(backend.store, tenant.principal, values)
        sids.append(view.sid)
    return sids


async def vip_segment(backend, tenant) -> str:
    made = await create_segment(
        backend.store,
        tenant.principal,
        "VIPs",
        "all",
        [{"field": "tags", "op": "contains", "value": "vip"}],
    )
    return made.sid


def fanout(backend, clock, **options) -> Fanout:
    return Fanout(backend.store, BOOK, RULES, "http://127.0.0.1:8080", clock=clock, **options)


async def run_fanout(engine: Fanout, sid_of_campaign: str, backend) -> None:
    async with backend.store.db.sessions() as session:
        campaign_id = await session.scalar(
            select(Campaign.id).where(Campaign.sid == sid_of_campaign)
        )
    while await engine.step(campaign_id):
        pass
    await engine.step(campaign_id)  # the empty read that ends the phase


async def fanned_out_for_tomorrow(backend, tenant, contacts: int) -> str:
    """A campaign to `contacts` VIPs at 10:00 their time, launched at NOON and fanned out:
    its messages wait in the outbox until tomorrow morning."""
    await shop_contacts(backend, tenant, contacts, opted_in=contacts)
    created = await campaigns.create_campaign(
        backend.store,
        tenant.principal,
        {
            "name": "Tomorrow",
            "from": tenant.sender,
            "segment": await vip_segment(backend, tenant),
            "content": {"text": "Soon"},
            "local_send_time": "10:00",
        },
    )
    await campaigns.launch(backend.store, tenant.principal, created["sid"])
    await run_fanout(fanout(backend, clock_at(NOON)), created["sid"], backend)
    return created["sid"]


async def messages_of(backend, campaign_sid: str) -> list[Message]:
    async with backend.store.db.sessions() as session:
        found = await session.scalars(
            select(Message).where(Message.campaign_sid == campaign_sid).order_by(Message.id)
        )
        return list(found)


def test_a_personalized_campaign_reaches_each_eligible_contact_once(backend):
    async def scenario():
        async with Scenario(backend) as run:
            shop = run.shop
            contacts = await shop_contacts(backend, shop, 12, opted_in=10, time_zone=daytime_zone())
            # One opted out by STOP after giving consent.
            await _ledger(backend, shop, "+12125550003", ConsentKind.OPTED_OUT)
            segment = await vip_segment(backend, shop)
            created = await campaigns.create_campaign(
                backend.store,
                shop.principal,
                {
                    "name": "Winter drop",
                    "from": shop.sender,
                    "segment": segment,
                    "content": {
                        "text": 'Hi {{ first_name | default: "there" }}! {{ attributes.tier '
                        "| upcase }} members: 20% off today."
                    },
                },
            )
            sid = created["sid"]
            assert created["status"] == "draft" and created["stats"]["recipients"] == 0

            seen = await preview(
                backend.store,
                shop.principal,
                sid,
                price_book=BOOK,
                rules_book=RULES,
                public_url="http://127.0.0.1:8080",
            )
            assert seen["recipients"] == 12 and seen["eligible"] == 9
            assert seen["excluded"] == {
                "opted_out": 1,
                "no_consent": 2,
                "over_cap": 0,
                "invalid": 0,
            }
            first = seen["samples"][0]
            assert first["text"] == "Hi Ada! GOLD members: 20% off today."
            assert first["encoding"] == "GSM-7" and first["segments"] == 1
            zoe = next(s for s in seen["samples"] if "Zoë" in s["text"])
            assert zoe["encoding"] == "UCS-2"  # ë is not GSM-7
            assert any("UCS-2" in w for w in seen["warnings"])
            # Nine one-segment texts (UCS-2 ones too: they are short).
            assert Decimal(seen["estimated_cost"]["total"]) == Decimal(first["price"]) * 9
            assert seen["estimated_cost"]["sms_segments"] == 9

            launched = await campaigns.launch(backend.store, shop.principal, sid)
            assert launched["status"] == "sending" and launched["stats"]["recipients"] == 12
            # A contact added after the launch is not in its audience.
            await save_contact(
                backend.store, shop.principal, {"phone": "+12125559999", "tags": "vip", **EVIDENCE}
            )
            messages = await _wait(run, backend, sid, 9, "delivered")
            assert sorted(run.sim.destinations()) == sorted(
                m.lstrip("+") for m in await _numbers(backend, messages)
            )
            assert len(set(run.sim.destinations())) == 9
            assert run.sim.texts_to("+12125550001") == ["Hi Grace! SILVER members: 20% off today."]
            done = fanout(backend, clock_at(datetime.now(UTC)), completion_check=0)
            await run_fanout(done, sid, backend)
            final = await campaigns.get_campaign(backend.store, shop.principal, sid)
            assert final["status"] == "completed"
            stats = final["stats"]
            assert stats["delivered"] == 9 and stats["excluded"] == 3 and stats["queued"] == 0
            assert stats["variants"][0]["delivered"] == 9
            assert Decimal(stats["cost"]) == sum((m.price for m in messages), Decimal(0))
            assert {m.contact_id for m in messages} == set(
                (await _contact_ids(backend, contacts)).values()
            ) - {await _contact_id(backend, contacts[i]) for i in (3, 10, 11)}
            # Receipts move the contacts' last delivery (segments match on it).
            async with backend.store.db.sessions() as session:
                reached = {
                    c.id: c.last_delivered_at for c in await session.scalars(select(Contact))
                }
            texted = {m.contact_id for m in messages}
            assert all(reached[c] is not None for c in texted)
            assert all(at is None for c, at in reached.items() if c not in texted)

    backend.run(scenario())


def test_budget_stops_the_fanout_before_it_would_be_exceeded(backend):
    async def scenario():
        shop = await backend.create_tenant()
        await shop_contacts(backend, shop, 10, opted_in=10)
        segment = await vip_segment(backend, shop)
        price = BOOK.sms("US", 1).price
        created = await campaigns.create_campaign(
            backend.store,
            shop.principal,
            {
                "name": "Capped",
                "from": shop.sender,
                "segment": segment,
                "content": {"text": "Sale today"},
                "budget": str(price * 3 + price / 2),
            },
        )
        await campaigns.launch(backend.store, shop.principal, created["sid"])
        await run_fanout(fanout(backend, clock_at(NOON), batch=4), created["sid"], backend)
        after = await campaigns.get_campaign(backend.store, shop.principal, created["sid"])
        assert after["status"] == "budget_exhausted"
        assert len(await messages_of(backend, created["sid"])) == 3
        assert Decimal(after["committed"]) == price * 3 <= Decimal(after["budget"])

    backend.run(scenario())


def test_local_send_time_is_each_recipients_own_ten_oclock(backend):
    async def scenario():
        shop = await backend.create_tenant()
        for phone in ("+12125550100", "+13105550100"):  # New York, Los Angeles
            await save_contact(
                backend.store, shop.principal, {"phone": phone, "tags": "vip", **EVIDENCE}
            )
        segment = await vip_segment(backend, shop)
        created = await campaigns.create_campaign(
            backend.store,
            shop.principal,
            {
                "name": "Morning",
                "from": shop.sender,
                "segment": segment,
                "content": {"text": "Good morning"},
                "local_send_time": "10:00",
            },
        )
        await campaigns.launch(backend.store, shop.principal, created["sid"])
        await run_fanout(fanout(backend, clock_at(NOON)), created["sid"], backend)
        moments = {}
        for message in await messages_of(backend, created["sid"]):
            to = backend.store.cipher.open(message.recipient, "message.to")
            moments[to] = message.send_at
            assert message.status == "scheduled" and message.due_at == message.send_at
        ny = moments["+12125550100"].astimezone(ZoneInfo("America/New_York"))
        la = moments["+13105550100"].astimezone(ZoneInfo("America/Los_Angeles"))
        assert (ny.hour, ny.minute, la.hour, la.minute) == (10, 0, 10, 0)
        assert ny.date() == la.date() == NOON.date() + timedelta(days=1)

    backend.run(scenario())


def test_ab_test_sends_the_sample_then_the_winner_to_the_rest(backend):
    async def scenario():
        shop = await backend.create_tenant()
        await shop_contacts(backend, shop, 40, opted_in=40)
        segment = await vip_segment(backend, shop)
        created = await campaigns.create_campaign(
            backend.store,
            shop.principal,
            {
                "name": "Which words",
                "from": shop.sender,
                "segment": segment,
                "variants": [
                    {"name": "A", "weight": 1, "content": {"text": "Sale: 20% off"}},
                    {"name": "B", "weight": 1, "content": {"text": "Treat yourself: 20% off"}},
                ],
                "ab_test": {"sample_percent": 50, "metric": "clicks", "decide_after_minutes": 60},
            },
        )
        sid = created["sid"]
        await campaigns.launch(backend.store, shop.principal, sid)
        clock = clock_at(NOON)
        engine = fanout(backend, clock)
        await run_fanout(engine, sid, backend)
        sample = await messages_of(backend, sid)
        assert 8 <= len(sample) <= 32 and {m.campaign_variant for m in sample} == {"A", "B"}
        # B's texts were delivered, A's were not.
        async with backend.store.db.transaction() as session:
            for variant, status in (("A", "undelivered"), ("B", "delivered")):
                await session.execute(
                    update(Message)
                    .where(Message.campaign_sid == sid, Message.campaign_variant == variant)
                    .values(status=status, due_at=None)
                )
        await run_fanout(engine, sid, backend)
        assert len(await messages_of(backend, sid)) == len(sample)  # still waiting
        clock.now[0] = NOON + timedelta(minutes=61)
        await run_fanout(engine, sid, backend)
        everyone = await messages_of(backend, sid)
        assert len(everyone) == 40 and len({m.contact_id for m in everyone}) == 40
        assert {m.campaign_variant for m in everyone[len(sample) :]} == {"B"}
        assert (await campaigns.get_campaign(backend.store, shop.principal, sid))["winner"] == "B"

    backend.run(scenario())


def test_pause_holds_resume_releases_and_cancel_cancels_waiting_messages(backend):
    async def scenario():
        shop = await backend.create_tenant()
        sid = await fanned_out_for_tomorrow(backend, shop, 6)
        paused = await campaigns.pause(backend.store, shop.principal, sid)
        assert paused["status"] == "paused"
        assert all(m.due_at is None for m in await messages_of(backend, sid))
        # At the campaign's NOON: its texts are still due tomorrow morning, whatever the day.
        resumed = await campaigns.resume(backend.store, shop.principal, sid, clock=clock_at(NOON))
        assert resumed["status"] == "sending"
        assert all(m.due_at == m.send_at for m in await messages_of(backend, sid))
        canceled = await campaigns.cancel(backend.store, shop.principal, sid)
        assert canceled["status"] == "canceled" and canceled["stats"]["canceled"] == 6
        assert {m.status for m in await messages_of(backend, sid)} == {"canceled"}
        with pytest.raises(Exception) as refused:
            await campaigns.launch(backend.store, shop.principal, sid)
        assert getattr(refused.value, "http_status", None) == 409

    backend.run(scenario())


def test_a_stop_during_the_campaign_withdraws_that_recipients_message(backend):
    async def scenario():
        shop = await backend.create_tenant()
        sid = await fanned_out_for_tomorrow(backend, shop, 3)
        await customer_texts(backend, shop, "+12125550001", "STOP", NOON + timedelta(hours=1))
        by_number = {
            backend.store.cipher.open(m.recipient, "message.to"): m
            for m in await messages_of(backend, sid)
        }
        assert by_number["+12125550001"].status == "failed"
        assert by_number["+12125550001"].error_code == 21610
        assert {by_number[n].status for n in ("+12125550000", "+12125550002")} == {"scheduled"}
        stats = (await campaigns.get_campaign(backend.store, shop.principal, sid))["stats"]
        assert stats["opted_out"] == 1 and stats["failed"] == 1

    backend.run(scenario())


def test_a_crash_mid_fanout_neither_loses_nor_duplicates_a_recipient(backend, monkeypatch):
    async def scenario():
        shop = await backend.create_tenant()
        await shop_contacts(backend, shop, 30, opted_in=30)
        segment = await vip_segment(backend, shop)
        created = await campaigns.create_campaign(
            backend.store,
            shop.principal,
            {"name": "Crash", "from": shop.sender, "segment": segment, "content": {"text": "Hi"}},
        )
        sid = created["sid"]
        await campaigns.launch(backend.store, shop.principal, sid)
        from smsvia.services import fanout as fanout_module

        real_write, calls = fanout_module.write_messages, []

        async def dies_on_the_third_batch(session, store, batch):
            calls.append(len(batch))
            written = await real_write(session, store, batch)
            if len(calls) == 3:
                raise RuntimeError("killed after writing, before the commit")
            return written

        monkeypatch.setattr(fanout_module, "write_messages", dies_on_the_third_batch)
        with pytest.raises(RuntimeError):
            await run_fanout(fanout(backend, clock_at(NOON), batch=7), sid, backend)
        assert len(await messages_of(backend, sid)) == 14  # two batches committed
        monkeypatch.setattr(fanout_module, "write_messages", real_write)
        await run_fanout(fanout(backend, clock_at(NOON), batch=7), sid, backend)
        everyone = await messages_of(backend, sid)
        assert len(everyone) == 30 and len({m.contact_id for m in everyone}) == 30

    backend.run(scenario())


def test_campaign_api_refuses_bad_input_clearly(server, backend):
    shop, other = backend.tenant(), backend.tenant("+15005550007")
    with (
        httpx.Client(base_url=server, auth=(shop.sid, shop.token), timeout=10) as api,
        httpx.Client(base_url=server, auth=(other.sid, other.token), timeout=10) as stranger,
    ):
        api.post("/v1/contacts", json={"phone": "+12125550100", "tags": ["vip"]})
        segment = api.post(
            "/v1/segments",
            json={"name": "v", "conditions": [{"field": "tags", "op": "contains", "value": "vip"}]},
        ).json()["sid"]
        good = {"name": "x", "from": shop.sender, "segment": segment, "content": {"text": "Hi"}}

        def refused(change: dict, field: str, words: str) -> None:
            answer = api.post("/v1/campaigns", json={**good, **change})
            assert answer.status_code == 400, answer.text
            assert words in answer.json()["message"], answer.json()

        refused({"segment": "SG" + "0" * 32}, "segment", "does not exist")
        refused({"content": {"text": "Hi {% if %}"}}, "content.text", "does not parse")
        refused({"content": {"text": "{{ a | shout }}"}}, "content.text", "unknown filter")
        refused({"budget": "lots"}, "budget", "budget")
        refused({"budget": 12.5}, "budget", "budget")
        refused({"local_send_time": "25:00"}, "local_send_time", "HH:MM")
        refused({"from": "+15005550099"}, "from", "not a sender")
        refused({"variants": [{"name": "A", "content": {"text": "x"}}]}, "variants", "give content")

        made = api.post("/v1/campaigns", json=good)
        assert made.status_code == 201 and made.json()["sid"].startswith("CM")
        sid = made.json()["sid"]
        assert stranger.get(f"/v1/campaigns/{sid}").status_code == 404
        assert api.post(f"/v1/campaigns/{sid}/pause").status_code == 409
        shown = api.post(f"/v1/campaigns/{sid}/preview").json()
        assert shown["recipients"] == 1 and shown["excluded"]["no_consent"] == 1

        assert api.delete(f"/v1/segments/{segment}").status_code == 204
        orphan = api.post(f"/v1/campaigns/{sid}/launch")
        assert orphan.status_code == 400 and "was deleted" in orphan.json()["message"]
        assert api.post(f"/v1/campaigns/{sid}/cancel").json()["status"] == "canceled"
        again = api.post(f"/v1/campaigns/{sid}/launch")
        assert again.status_code == 409 and "canceled" in again.json()["message"]
        assert [c["sid"] for c in api.get("/v1/campaigns").json()["campaigns"]] == [sid]


async def customer_texts(backend, tenant, handset: str, text: str, now: datetime) -> None:
    async with backend.store.db.transaction() as session:
        number = await sender_queries.number_by_phone(session, tenant.sender)
        await inbound.receive(
            session,
            backend.store,
            Tracker(backend.store),
            BOOK,
            number=number,
            handset=handset,
            text=text,
            channel="sms",
            now=now,
        )


async def _ledger(backend, tenant, phone: str, kind: ConsentKind) -> None:
    async with backend.store.db.transaction() as session:
        await consent.append(
            session,
            backend.store,
            account_id=tenant.account_id,
            phone=phone,
            kind=kind,
            source="keyword",
            evidence={},
            now=datetime.now(UTC),
        )


async def _wait(run, backend, sid: str, count: int, status: str, timeout: float = 30):
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        messages = await messages_of(backend, sid)
        if len(messages) == count and all(m.status == status for m in messages):
            return messages
        if time.monotonic() > deadline:
            raise AssertionError([(m.sid, m.status) for m in messages])
        await asyncio.sleep(0.1)


async def _numbers(backend, messages) -> list[str]:
    return [backend.store.cipher.open(m.recipient, "message.to") for m in messages]


async def _contact_ids(backend, sids) -> dict[str, int]:
    from smsvia.store.marketing_models import Contact

    async with backend.store.db.sessions() as session:
        rows = await session.execute(select(Contact.sid, Contact.id).where(Contact.sid.in_(sids)))
        return dict(rows.all())


async def _contact_id(backend, sid: str) -> int:
    return (await _contact_ids(backend, [sid]))[sid]
