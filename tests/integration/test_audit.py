"""The audit log, on both databases: changes through the API, the dashboard and the command
line, each with who, what, which object, when and from where; never a secret; one account
never sees another's; rows cannot be changed or deleted."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from smsvia.services import keys
from smsvia.store.audit_models import AuditEvent
from tests.integration.test_cli_connectors import smsvia
from tests.integration.test_keys import client as twilio_client

ADA = "+14155550100"


def api(server: str, username: str, password: str) -> httpx.Client:
    return httpx.Client(base_url=server, auth=(username, password), timeout=10)


def test_api_changes_are_recorded_newest_first_with_who_what_and_where(server, backend):
    shop, other = backend.tenant(), backend.tenant("+15005550007")
    owner = twilio_client(server, shop.sid, shop.token, shop.sid)
    made = owner.new_keys.create(friendly_name="storefront")
    with api(server, made.sid, made.secret) as by_key, api(server, shop.sid, shop.token) as web:
        contact = by_key.post("/v1/contacts", json={"phone": ADA, "first_name": "Ada"}).json()
        refused = by_key.patch(f"/v1/contacts/{contact['sid']}", json={"phone": "+14155550199"})
        assert refused.status_code == 400  # refused: not a change
        by_key.patch(f"/v1/contacts/{contact['sid']}", json={"email": "ada@example.com"})
        conditions = [{"field": "tags", "op": "contains", "value": "vip"}]
        segment = web.post("/v1/segments", json={"name": "VIP", "conditions": conditions}).json()
        assert web.delete(f"/v1/segments/{segment['sid']}").status_code == 204
        sent = web.post(
            f"/2010-04-01/Accounts/{shop.sid}/Messages.json",
            data={"To": ADA, "From": shop.sender, "Body": "not an audit event"},
        )
        assert sent.status_code == 201
        assert owner.keys(made.sid).delete()

        first = web.get("/v1/audit", params={"page_size": 4}).json()
        rest = web.get(first["next_page_uri"]).json()
    events = first["events"] + rest["events"]
    assert rest["next_page_uri"] is None
    seen = [(e["actor"], e["action"], e["object"]) for e in events]
    assert seen == [
        (shop.sid, "keys.delete", made.sid),
        (shop.sid, "segments.delete", segment["sid"]),
        (shop.sid, "segments.create", segment["sid"]),
        (made.sid, "contacts.update", contact["sid"]),
        (made.sid, "contacts.create", contact["sid"]),
        (shop.sid, "keys.create", made.sid),
    ]
    assert {e["address"] for e in events} == {"127.0.0.1"}
    assert events[-1]["detail"] == {"given": ["FriendlyName"]}
    assert events[3]["detail"] == {"given": ["email"]}
    assert all(e["at"].endswith("Z") for e in events)
    everything = json.dumps(events)
    assert made.secret not in everything and "ada@example.com" not in everything

    # Another account sees none of it; a key without the admin scope may not look.
    with api(server, other.sid, other.token) as stranger:
        assert stranger.get("/v1/audit").json()["events"] == []
    reader = backend.run(keys.create_key(backend.store, shop.sid, "reports", ["messages:read"]))
    with api(server, reader.key.sid, reader.secret) as restricted:
        answer = restricted.get("/v1/audit")
        assert answer.status_code == 403 and answer.json()["code"] == 20403


def test_dashboard_sign_in_and_out_are_recorded(server, backend):
    shop = backend.tenant()
    with httpx.Client(base_url=server, timeout=10) as browser:
        signed = browser.post("/login", data={"login": shop.sid, "password": shop.token})
        assert signed.status_code == 303
        page = browser.get("/send").text
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        assert browser.post("/logout", data={"csrf": csrf}).status_code == 303
    with api(server, shop.sid, shop.token) as web:
        events = web.get("/v1/audit").json()["events"]
    assert [(e["actor"], e["action"]) for e in events] == [
        (f"dashboard:{shop.sid}", "dashboard.sign_out"),
        (f"dashboard:{shop.sid}", "dashboard.sign_in"),
    ]


def test_cli_changes_are_recorded_without_their_secret_values(backend, settings):
    shop = backend.tenant()
    secret = "shpss_d0n0tl0gme"
    password = "Pw8x!kQz"  # SMPP allows 8 characters
    done = smsvia(settings, "accounts", "update", shop.sid, "--shopify-secret", secret)
    assert done.returncode == 0, done.stderr
    add = ["connectors", "add", "smpp", "carrier9", "--host", "127.0.0.1", "--port", "2775"]
    assert smsvia(settings, *add, "--system-id", "x", "--password", password).returncode == 0
    assert smsvia(settings, "connectors", "list").returncode == 0  # reads: not recorded
    failed = smsvia(settings, "accounts", "update", shop.sid, "--rate-limit", "fast")
    assert failed.returncode != 0  # refused: not recorded

    mine = smsvia(settings, "audit", "export", "--account", shop.sid, "--format", "json")
    assert mine.returncode == 0, mine.stderr
    events = [json.loads(line) for line in mine.stdout.splitlines()]
    assert [(e["account"], e["action"], e["object"], e["address"]) for e in events] == [
        (shop.sid, "accounts.update", shop.sid, "local")
    ]
    assert events[0]["actor"].startswith("cli:")
    assert events[0]["detail"] == {"given": ["shopify_secret"]}

    every = smsvia(settings, "audit", "export")
    assert every.returncode == 0, every.stderr
    lines = every.stdout.splitlines()
    assert lines[0] == "at,account,actor,action,object,address,detail"
    assert [line.split(",")[3] for line in lines[1:]] == ["accounts.update", "connectors.add.smpp"]
    assert secret not in every.stdout and password not in every.stdout


def test_the_log_is_append_only(backend):
    shop = backend.tenant()
    backend.run(keys.create_key(backend.store, shop.sid, "ci", None))

    async def record_then_tamper():
        from smsvia.services import audit

        await audit.record(
            backend.store, shop.account_id, audit.Change(actor=shop.sid, action="keys.create")
        )
        refused = []
        for statement in (
            update(AuditEvent).values(actor="someone else"),
            delete(AuditEvent),
        ):
            try:
                async with backend.store.db.transaction() as session:
                    await session.execute(statement)
            except DBAPIError as exc:
                refused.append("append-only" in str(exc))
        async with backend.store.db.sessions() as session:
            left = await session.scalar(text("SELECT count(*) FROM audit_events"))
        return refused, left

    refused, left = backend.run(record_then_tamper())
    assert refused == [True, True] and left == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_log_cannot_be_truncated_on_postgresql(backend):
    async def truncate():
        async with backend.store.db.transaction() as session:
            await session.execute(text("TRUNCATE audit_events"))

    with pytest.raises(DBAPIError, match="append-only"):
        backend.run(truncate())
