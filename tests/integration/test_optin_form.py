"""The hosted opt-in form over real HTTP, and its double opt-in over real SMPP."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest

from smsvia.domain.consent import ConsentKind
from smsvia.domain.errors import InvalidParameter
from smsvia.services.compliance import NoMarketingConsent
from smsvia.services.optin import create_form
from smsvia.store import consent as consent_queries
from tests.integration.scenario import Scenario

HANDSET = "+14155550123"
DISCLOSURE = "I agree to get marketing texts from Acme. Reply STOP to cancel."


async def eventually(condition, timeout: float = 10):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (found := await condition()):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)
    return found


def token_of(page: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


async def ledger_of(sc: Scenario, phone: str) -> list[tuple[str, dict, str]]:
    store = sc.backend.store
    async with store.db.sessions() as session:
        entries = await consent_queries.ledger(
            session, sc.shop.account_id, phone_indexes=[store.cipher.blind_index(phone, "phone")]
        )
    return [
        (
            entry.kind,
            json.loads(store.cipher.open(entry.evidence, "consent.evidence")),
            entry.disclosure,
        )
        for entry in entries
    ]


async def new_form(sc: Scenario) -> str:
    form = await create_form(
        sc.backend.store, sc.shop.sid, sender=sc.shop.sender, brand="Acme", disclosure=DISCLOSURE
    )
    return form.sid


def texts(sc: Scenario) -> list[str]:
    return sc.sim.texts_to(HANDSET)


def test_double_opt_in_through_the_form_and_a_y_from_the_phone(server, backend):
    async def run():
        async with Scenario(backend) as sc, httpx.AsyncClient(base_url=server) as web:
            sid = await new_form(sc)
            page = await web.get(f"/optin/{sid}")
            assert page.status_code == 200 and DISCLOSURE in page.text
            assert 'type="checkbox" name="consent" value="yes">' in page.text  # unchecked
            assert "frame-ancestors *" in page.headers["content-security-policy"]
            answer = await web.post(
                f"/optin/{sid}",
                data={
                    "token": token_of(page.text),
                    "phone": "(415) 555-0123",
                    "first_name": "Ada",
                    "consent": "yes",
                },
                headers={"Origin": server, "User-Agent": "test-browser/1.0"},
            )
            assert answer.status_code == 200, answer.text
            assert "Check your phone" in answer.text and "•0123" in answer.text
            await eventually(lambda: asyncio.sleep(0, texts(sc)))
            requested = await ledger_of(sc, HANDSET)
            with pytest.raises(NoMarketingConsent):  # asked, not yet confirmed
                await sc.send(HANDSET, body="Sale!", category="marketing")

            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, " y ")
            await eventually(lambda: asyncio.sleep(0, len(texts(sc)) == 2))
            marketing = await sc.send(HANDSET, body="Sale!", category="marketing")
            return requested, await ledger_of(sc, HANDSET), texts(sc), marketing

    requested, ledger, received, marketing = backend.run(run())
    [(kind, evidence, disclosure)] = requested
    assert kind == ConsentKind.OPT_IN_REQUESTED and disclosure == DISCLOSURE
    assert evidence["ip"] == "127.0.0.1" and evidence["user_agent"] == "test-browser/1.0"
    assert evidence["page_url"].endswith("/optin/" + evidence["form_sid"])
    assert [entry[0] for entry in ledger] == ["opt_in_requested", "opt_in_confirmed"]
    assert ledger[1][1]["text"] == " y " and ledger[1][2] == DISCLOSURE
    assert received[0].startswith("Acme: reply Y to confirm")
    assert received[1].startswith("Acme: you're subscribed")
    assert marketing.status in ("queued", "scheduled")  # accepted; the hour decides which


def test_a_forged_or_stale_or_unticked_submission_changes_nothing(server, backend):
    async def run():
        async with Scenario(backend) as sc, httpx.AsyncClient(base_url=server) as web:
            sid = await new_form(sc)
            token = token_of((await web.get(f"/optin/{sid}")).text)
            good = {"token": token, "phone": HANDSET, "consent": "yes"}
            answers = {
                "no token": await web.post(f"/optin/{sid}", data={**good, "token": ""}),
                "other site": await web.post(
                    f"/optin/{sid}", data=good, headers={"Origin": "https://evil.example"}
                ),
                "cross-site fetch": await web.post(
                    f"/optin/{sid}", data=good, headers={"Sec-Fetch-Site": "cross-site"}
                ),
                "token of another form": await web.post(f"/optin/{await new_form(sc)}", data=good),
                "box not ticked": await web.post(f"/optin/{sid}", data={**good, "consent": ""}),
                "bad number": await web.post(f"/optin/{sid}", data={**good, "phone": "12"}),
                "unknown form": await web.post("/optin/OF" + "0" * 32, data=good),
            }
            await asyncio.sleep(0.3)
            return answers, await ledger_of(sc, HANDSET), texts(sc)

    answers, ledger, received = backend.run(run())
    status = {why: answer.status_code for why, answer in answers.items()}
    assert status == {
        "no token": 403,
        "other site": 403,
        "cross-site fetch": 403,
        "token of another form": 403,
        "box not ticked": 400,
        "bad number": 400,
        "unknown form": 404,
    }
    assert "Tick the box" in answers["box not ticked"].text
    assert HANDSET in answers["box not ticked"].text  # what was typed is kept
    assert ledger == [] and received == []


def test_the_form_limits_each_address_and_texts_a_number_once_in_ten_minutes(server, backend):
    async def run():
        async with Scenario(backend) as sc, httpx.AsyncClient(base_url=server) as web:
            sid = await new_form(sc)
            token = token_of((await web.get(f"/optin/{sid}")).text)
            statuses = []
            for _ in range(6):
                answer = await web.post(
                    f"/optin/{sid}", data={"token": token, "phone": HANDSET, "consent": "yes"}
                )
                statuses.append(answer.status_code)
            await asyncio.sleep(0.5)
            return statuses, answer.text, await ledger_of(sc, HANDSET), texts(sc)

    statuses, last, ledger, received = backend.run(run())
    assert statuses == [200] * 5 + [429]
    assert "Too many sign-ups" in last
    assert len(ledger) == 5 and len(received) == 1  # every request recorded, one text


def test_y_without_an_open_request_is_an_ordinary_message(backend):
    async def run():
        async with Scenario(backend) as sc:
            await sc.sim.deliver_mo(HANDSET, sc.shop.sender, "Y")
            await asyncio.sleep(0.5)
            return await ledger_of(sc, HANDSET), texts(sc)

    assert backend.run(run()) == ([], [])


def test_a_form_needs_the_accounts_own_number_and_a_way_to_stop(backend):
    shop = backend.tenant()
    other = backend.tenant("+15005550007")
    with pytest.raises(InvalidParameter, match="not one of this account's numbers"):
        backend.run(
            create_form(backend.store, shop.sid, sender=other.sender, brand="A", disclosure="x")
        )
    with pytest.raises(InvalidParameter, match="STOP"):
        backend.run(
            create_form(
                backend.store,
                shop.sid,
                sender=shop.sender,
                brand="A",
                disclosure="x",
                confirm_text="Reply Y",
            )
        )
