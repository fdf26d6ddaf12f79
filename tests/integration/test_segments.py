"""Segments on both databases: the SQL holds exactly the contacts the reference evaluator
(domain/audience.py) picks, and the API counts live, pages and refuses bad rules."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import update

from smsvia.domain.audience import ContactFacts, parse_audience
from smsvia.domain.consent import ConsentKind
from smsvia.services import consent
from smsvia.services.contacts import save_contact
from smsvia.services.segments import audience_filter
from smsvia.store import audiences
from smsvia.store.marketing_models import Contact

NOW = datetime.now(UTC)
AREAS = ["415", "305", "212", "512", "206"]  # CA, FL, NY, TX, WA
RULES = [
    ("all", [("tags", "contains", "vip")]),
    ("all", [("tags", "not_contains", "vip"), ("tags", "exists", True)]),
    ("any", [("tags", "in", ["boots", "sale"]), ("first_name", "eq", "ADA")]),
    ("all", [("first_name", "ne", "ada")]),
    ("all", [("first_name", "in", ["grace", "alan"])]),
    ("all", [("email", "exists", True)]),
    ("all", [("email", "eq", "x3@shop.test")]),
    ("all", [("attributes.size", "eq", "m")]),
    ("all", [("attributes.size", "ne", "M")]),
    ("all", [("attributes.size", "in", ["S", "L"])]),
    ("all", [("attributes.size", "exists", False)]),
    ("all", [("state", "eq", "fl")]),
    ("all", [("state", "in", ["CA", "WA"]), ("country", "eq", "us")]),
    ("all", [("time_zone", "contains", "los_angeles")]),
    ("all", [("time_zone", "not_contains", "new_york")]),
    ("all", [("marketing_allowed", "eq", True)]),
    ("all", [("marketing_allowed", "ne", True)]),
    ("all", [("orders_count", "gte", 2)]),
    ("all", [("orders_count", "in", [0, 3])]),
    ("all", [("total_spent", "gt", "50.5")]),
    ("all", [("total_spent", "lte", 20)]),
    ("all", [("last_order_at", "within_days", 30)]),
    ("all", [("last_order_at", "before_days", 30)]),
    ("all", [("last_clicked_at", "exists", True), ("last_delivered_at", "exists", False)]),
    ("all", [("last_order_at", "gte", (NOW - timedelta(days=45)).isoformat())]),
    ("all", [("created_at", "within_days", 1)]),
    ("any", [("orders_count", "eq", 1), ("tags", "contains", "vip"), ("state", "eq", "TX")]),
    ("all", []),
    ("any", []),
]


def test_sql_holds_what_the_reference_evaluator_picks(backend):
    shop, other = backend.tenant(), backend.tenant("+15005550007")
    rng = random.Random(7)
    known: dict[str, ContactFacts] = {}
    for n in range(120):
        given = _random_contact(rng, n)
        view, _ = backend.run(save_contact(backend.store, shop.principal, given))
        engagement = _random_engagement(rng)
        backend.run(_set(backend, view.sid, engagement))
        if n % 3 == 0:
            kinds = [ConsentKind.IMPORTED] + ([ConsentKind.OPTED_OUT] if n % 9 == 0 else [])
            for kind in kinds:
                backend.run(_ledger(backend, shop.account_id, view.phone, kind))
        known[view.sid] = ContactFacts(
            created_at=NOW,
            tags=tuple(view.tags),
            first_name=view.first_name,
            email=view.email,
            attributes=view.attributes,
            country="US",
            state=_STATES[given["phone"][2:5]],
            time_zone=view.time_zone,
            marketing_allowed=n % 3 == 0 and n % 9 != 0,
            **engagement,
        )
    # Another account's contacts never count.
    backend.run(
        save_contact(backend.store, other.principal, {"phone": "+14155559999", "tags": "vip"})
    )

    for match, conditions in RULES:
        audience = parse_audience(
            match, [dict(zip(("field", "op", "value"), c, strict=True)) for c in conditions]
        )
        wanted = {sid for sid, f in known.items() if audience.matches(f, NOW)}
        found = backend.run(_members(backend, shop.account_id, audience))
        assert found == wanted, (match, conditions)


_STATES = {"415": "CA", "305": "FL", "212": "NY", "512": "TX", "206": "WA"}


def _random_contact(rng: random.Random, n: int) -> dict[str, str]:
    area = rng.choice(AREAS)
    given = {"phone": f"+1{area}555{n:04d}"}
    if rng.random() < 0.7:
        given["first_name"] = rng.choice(["Ada", "Grace", "Alan", "Linus"])
    if rng.random() < 0.5:
        given["email"] = f"X{n}@Shop.test"
    tags = rng.sample(["vip", "boots", "sale", "new"], rng.randint(0, 2))
    if tags:
        given["tags"] = ",".join(tags)
    if rng.random() < 0.6:
        given["size"] = rng.choice(["S", "M", "L"])
    if area == "415" and rng.random() < 0.5:
        given["time_zone"] = "America/New_York"  # a Californian who moved
    return given


def _random_engagement(rng: random.Random) -> dict:
    def maybe_days_ago():
        return NOW - timedelta(days=rng.randint(0, 90)) if rng.random() < 0.6 else None

    return {
        "orders_count": rng.randint(0, 3),
        "total_spent": Decimal(rng.randint(0, 10000)) / 100,
        "last_order_at": maybe_days_ago(),
        "last_clicked_at": maybe_days_ago(),
        "last_delivered_at": maybe_days_ago(),
    }


async def _set(backend, sid: str, values: dict) -> None:
    async with backend.store.db.transaction() as session:
        await session.execute(update(Contact).where(Contact.sid == sid).values(**values))


async def _ledger(backend, account_id: int, phone: str, kind: ConsentKind) -> None:
    async with backend.store.db.transaction() as session:
        await consent.append(
            session,
            backend.store,
            account_id=account_id,
            phone=phone,
            kind=kind,
            source="api",
            evidence={},
            now=NOW,
        )


async def _members(backend, account_id: int, audience) -> set[str]:
    async with backend.store.db.sessions() as session:
        who = audience_filter(session, backend.store, audience, NOW)
        count = await audiences.count_contacts(session, account_id, who)
        found = await audiences.recipients_after(session, account_id, who, 0, 10_000)
    assert count == len(found)
    return {contact.sid for contact in found}


def test_segments_api_counts_live_pages_and_refuses_bad_rules(server, backend):
    shop, other = backend.tenant(), backend.tenant("+15005550007")
    with (
        httpx.Client(base_url=server, auth=(shop.sid, shop.token), timeout=10) as api,
        httpx.Client(base_url=server, auth=(other.sid, other.token), timeout=10) as stranger,
    ):
        for n in range(3):
            api.post("/v1/contacts", json={"phone": f"+1305555010{n}", "tags": ["vip"]})
        made = api.post(
            "/v1/segments",
            json={
                "name": "Florida VIPs",
                "conditions": [
                    {"field": "tags", "op": "contains", "value": "VIP"},
                    {"field": "state", "op": "eq", "value": "fl"},
                ],
            },
        )
        assert made.status_code == 201, made.text
        segment = made.json()
        assert segment["sid"].startswith("SG") and segment["count"] == 3
        assert segment["conditions"][1] == {"field": "state", "op": "eq", "value": "FL"}

        api.post("/v1/contacts", json={"phone": "+13055550109", "tags": ["vip"]})
        assert api.get(segment["uri"]).json()["count"] == 4  # live
        first = api.get(f"{segment['uri']}/contacts", params={"page_size": 3}).json()
        assert first["contacts"][0]["phone"] == "+13055550109"
        rest = api.get(first["next_page_uri"]).json()
        assert len(rest["contacts"]) == 1 and rest["next_page_uri"] is None
        assert [s["sid"] for s in api.get("/v1/segments").json()["segments"]] == [segment["sid"]]

        assert stranger.get(segment["uri"]).status_code == 404
        assert stranger.get("/v1/segments").json()["segments"] == []

        bad = api.post(
            "/v1/segments",
            json={"name": "x", "conditions": [{"field": "shoe", "op": "eq", "value": 1}]},
        )
        assert bad.status_code == 400 and "unknown field 'shoe'" in bad.json()["message"]
        sealed = api.post(
            "/v1/segments",
            json={
                "name": "x",
                "conditions": [{"field": "first_name", "op": "contains", "value": "A"}],
            },
        )
        assert sealed.status_code == 400 and "sealed" in sealed.json()["message"]
        assert (
            api.post(
                "/v1/segments", content=b"{", headers={"content-type": "application/json"}
            ).status_code
            == 400
        )

        assert api.delete(segment["uri"]).status_code == 204
        assert api.get(segment["uri"]).status_code == 404
        assert json.loads(api.get("/v1/segments").text)["segments"] == []
