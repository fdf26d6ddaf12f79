"""The contacts API and the consent export over real HTTP, on both databases."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from smsvia.store.marketing_models import ConsentEvent

SMSVIA = str(Path(sys.executable).parent / "smsvia")
ADA = "+14155550100"


def client(server: str, tenant) -> httpx.Client:
    return httpx.Client(base_url=server, auth=(tenant.sid, tenant.token), timeout=10)


def create(api: httpx.Client, **body) -> httpx.Response:
    return api.post("/v1/contacts", json={"phone": ADA, **body})


def test_create_update_fetch_list_and_delete(server, backend):
    shop, other = backend.tenant(), backend.tenant("+15005550007")
    with client(server, shop) as api, client(server, other) as stranger:
        first = create(api, first_name="Ada", tags=["VIP"], attributes={"shoe_size": 38})
        assert first.status_code == 201, first.text
        ada = first.json()
        assert ada["sid"].startswith("CO") and ada["phone"] == ADA
        assert ada["tags"] == ["vip"] and ada["attributes"] == {"shoe_size": "38"}
        assert ada["time_zone"] == "America/Los_Angeles"  # from the number
        assert ada["consent"] == "none" and ada["marketing_allowed"] is False

        again = create(api, phone="(415) 555-0100", last_name="Lovelace")
        assert again.status_code == 200 and again.json()["sid"] == ada["sid"]
        assert again.json()["first_name"] == "Ada"  # kept

        for n, tag in ((1, "boots"), (2, "vip")):
            assert create(api, phone=f"+1415555010{n}", tags=[tag]).status_code == 201
        vips = api.get("/v1/contacts", params={"tag": "vip", "page_size": 1}).json()
        assert [c["phone"] for c in vips["contacts"]] == ["+14155550102"]
        rest = api.get(vips["next_page_uri"]).json()
        assert [c["phone"] for c in rest["contacts"]] == [ADA] and rest["next_page_uri"] is None
        by_phone = api.get("/v1/contacts", params={"phone": "415-555-0101"}).json()
        assert [c["tags"] for c in by_phone["contacts"]] == [["boots"]]

        patched = api.patch(f"/v1/contacts/{ada['sid']}", json={"email": "Ada@Example.com"})
        assert patched.status_code == 200 and patched.json()["email"] == "ada@example.com"
        assert api.get("/v1/contacts", params={"email": "ada@example.com"}).json()["contacts"]
        moved = api.patch(f"/v1/contacts/{ada['sid']}", json={"phone": "+14155550199"})
        assert moved.status_code == 400 and "phone cannot change" in moved.json()["message"]

        assert stranger.get(f"/v1/contacts/{ada['sid']}").status_code == 404
        assert stranger.delete(f"/v1/contacts/{ada['sid']}").status_code == 404
        assert stranger.get("/v1/contacts").json()["contacts"] == []
        assert api.delete(f"/v1/contacts/{ada['sid']}").status_code == 204
        assert api.get(f"/v1/contacts/{ada['sid']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"phone": "12"}, "phone"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"email": "not-an-email"}, "email"),
        ({"attributes": {"phone": "x"}}, "attributes.phone"),
        ({"tags": ["a,b"]}, "tag"),
        ({"consent": {"given_at": "yesterday", "source": "x"}}, "consent_date"),
        ({"nickname": "Ada"}, "nickname"),
    ],
)
def test_bad_contacts_are_refused_naming_the_field(server, backend, body, words):
    shop = backend.tenant()
    with client(server, shop) as api:
        answer = create(api, **body)
        assert answer.status_code == 400, answer.text
        assert words in answer.json()["message"]
        assert api.get("/v1/contacts").json()["contacts"] == []


def test_consent_given_elsewhere_is_recorded_and_exported_with_its_evidence(
    server, backend, settings
):
    shop = backend.tenant()
    with client(server, shop) as api:
        ada = create(
            api,
            consent={
                "given_at": "2026-11-20T14:03:00Z",
                "source": "checkout, box ticked",
                "disclosure": "Yes, text me offers. Reply STOP to cancel.",
            },
        ).json()
        assert ada["consent"] == "opted_in" and ada["marketing_allowed"] is True
        create(api, phone="+14155550101")
        exported = api.get(f"/v1/contacts/{ada['sid']}/consent").json()
        as_csv = api.get("/v1/consent", params={"format": "csv"})
        for_phone = api.get("/v1/consent", params={"phone": "415 555 0100"}).json()

    assert exported["chain_intact"] is True and exported["phone"] == ADA
    [entry] = exported["entries"]
    assert entry["kind"] == "imported" and entry["source"] == "api"
    assert entry["disclosure"] == "Yes, text me offers. Reply STOP to cancel."
    assert entry["evidence"]["api_credential"] == shop.sid
    assert entry["evidence"]["consented_at"] == "2026-11-20T14:03:00+00:00"
    assert entry["evidence"]["ip"] == "127.0.0.1"
    assert entry["previous_hash"] == "0" * 64 and len(entry["hash"]) == 64
    assert for_phone["entries"] == exported["entries"]
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["x-consent-chain-intact"] == "true"
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [row["phone"] for row in rows] == [ADA]
    assert json.loads(rows[0]["evidence"])["consent_source"] == "checkout, box ticked"

    # Someone edits the ledger behind our back: the export says so, and the CLI fails.
    async def tamper():
        async with backend.store.db.transaction() as session:
            await session.execute(update(ConsentEvent).values(disclosure="Anything goes"))

    backend.run(tamper())
    with client(server, shop) as api:
        assert api.get("/v1/consent").json()["chain_intact"] is False
    env = {
        **os.environ,
        "SMSVIA_DATABASE_URL": settings.database_url,
        "SMSVIA_MASTER_KEY": settings.master_key.get_secret_value(),
        "SMSVIA_DATA_DIR": str(settings.data_dir),
    }
    done = subprocess.run(
        [SMSVIA, "consent", "export", "--account", shop.sid, "--phone", ADA, "--format", "csv"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode != 0 and "does not verify" in done.stderr
    assert "Anything goes" in done.stdout and "Traceback" not in done.stderr
