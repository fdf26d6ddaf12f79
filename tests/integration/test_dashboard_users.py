"""Dashboard users over real HTTP, on both databases: roles, revocable sessions, CSRF on every
form (across a master key rotation too), sign-in throttling, passwords hashed and emails sealed
at rest."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from smsvia.api.app import create_app
from smsvia.domain.errors import DomainError
from smsvia.services import users
from smsvia.store.user_models import User
from tests.integration.conftest import ServerThread
from tests.integration.test_cli_connectors import smsvia
from tests.integration.test_dashboard import TO, browser, signed_in
from tests.integration.test_key_rotation import new_key

PASSWORD = "correct horse battery"


def csrf_on(client: httpx.Client, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def sign_in_as(server: str, email: str, password: str = PASSWORD) -> httpx.Client:
    client = browser(server)
    answer = client.post("/login", data={"login": email, "password": password})
    assert answer.status_code == 303, answer.text
    return client


def add_user(owner: httpx.Client, email: str, role: str) -> httpx.Response:
    form = {"email": email, "password": PASSWORD, "role": role, "csrf": csrf_on(owner, "/users")}
    return owner.post("/users", data=form)


def send_form(client: httpx.Client, sender: str) -> httpx.Response:
    csrf = csrf_on(client, "/send")
    return client.post("/send", data={"to": TO, "sender": sender, "body": "hi", "csrf": csrf})


def test_roles_decide_what_each_user_may_do(server, backend):
    shop = backend.tenant()
    owner = signed_in(server, shop)  # the account's SID and token: its owner
    assert add_user(owner, "Mia@Shop.example", "marketer").status_code == 303
    assert add_user(owner, "vic@shop.example", "viewer").status_code == 303
    listed = owner.get("/users").text
    assert "mia@shop.example" in listed and "vic@shop.example" in listed

    marketer = sign_in_as(server, "mia@shop.example")
    assert "marketer" in marketer.get("/messages").text
    assert send_form(marketer, shop.sender).status_code == 303
    assert marketer.get("/users").status_code == 403

    viewer = sign_in_as(server, "VIC@shop.example ")
    assert viewer.get("/messages").status_code == 200
    assert viewer.get("/campaigns").status_code == 200
    refused = send_form(viewer, shop.sender)
    assert refused.status_code == 403 and "marketer" in refused.text
    assert viewer.post("/segments", data={"name": "x"}).status_code == 403

    # One send got through, the marketer's.
    with httpx.Client(base_url=server, auth=(shop.sid, shop.token)) as api:
        listed = api.get(f"/2010-04-01/Accounts/{shop.sid}/Messages.json").json()
    assert len(listed["messages"]) == 1
    audit = httpx.get(f"{server}/v1/audit", auth=(shop.sid, shop.token)).json()["events"]
    actors = {(e["actor"][:2], e["action"]) for e in audit}
    assert ("US", "dashboard.sign_in") in actors and ("da", "users.create") in actors
    assert PASSWORD not in str(audit) and "mia@shop.example" not in str(audit)


def test_sessions_end_at_once_when_revoked(server, backend, settings):
    shop = backend.tenant()
    owner = signed_in(server, shop)
    add_user(owner, "mia@shop.example", "marketer")
    laptop, phone = sign_in_as(server, "mia@shop.example"), sign_in_as(server, "mia@shop.example")
    mia = re.search(r"<code>(US[0-9a-f]{32})</code>", owner.get("/users").text).group(1)

    # Signing out ends that session only; its cookie is worth nothing afterwards.
    cookie = phone.cookies["smsvia_session"]
    phone.post("/logout", data={"csrf": csrf_on(phone, "/send")})
    replay = browser(server)
    replay.cookies.set("smsvia_session", cookie)
    assert replay.get("/messages").status_code == 303
    assert laptop.get("/messages").status_code == 200

    # An owner signs the user out everywhere.
    owner.post(f"/users/{mia}/sign-out", data={"csrf": csrf_on(owner, "/users")})
    assert laptop.get("/messages").status_code == 303

    # From the command line, in another process: removing the user ends their sessions.
    again = sign_in_as(server, "mia@shop.example")
    removed = smsvia(settings, "users", "remove", shop.sid, mia)
    assert removed.returncode == 0, removed.stderr
    assert again.get("/messages").status_code == 303
    assert (
        browser(server)
        .post("/login", data={"login": "mia@shop.example", "password": PASSWORD})
        .status_code
        == 401
    )

    # Rotating the auth token ends the sessions opened with it.
    rotated = smsvia(settings, "accounts", "rotate-token", shop.sid)
    assert rotated.returncode == 0, rotated.stderr
    assert owner.get("/messages").status_code == 303


def test_every_form_needs_its_sessions_csrf_token(server, backend):
    shop, other = backend.tenant(), backend.tenant("+15005550007")
    owner, stranger = signed_in(server, shop), signed_in(server, other)
    form = {"email": "x@shop.example", "password": PASSWORD, "role": "owner"}
    assert owner.post("/users", data=form).status_code == 403
    foreign = csrf_on(stranger, "/users")  # a token of another session
    assert owner.post("/users", data={**form, "csrf": foreign}).status_code == 403
    assert "x@shop.example" not in owner.get("/users").text
    assert backend.run(users.list_users(backend.store, shop.account_id)) == []


def test_sign_in_is_throttled_per_login_before_any_password_is_checked(server, backend):
    shop = backend.tenant()
    owner = signed_in(server, shop)
    add_user(owner, "mia@shop.example", "viewer")
    client = browser(server)
    answers = [
        client.post("/login", data={"login": "mia@shop.example", "password": f"wrong {n}"})
        for n in range(6)
    ]
    assert [a.status_code for a in answers] == [401] * 5 + [429]
    assert "Too many attempts" in answers[-1].text
    right = client.post("/login", data={"login": "mia@shop.example", "password": PASSWORD})
    assert right.status_code == 429 and "smsvia_session" not in right.cookies
    # An unknown email answers as a wrong password does.
    unknown = client.post("/login", data={"login": "nobody@shop.example", "password": PASSWORD})
    assert unknown.status_code == 401 and "do not match" in unknown.text


def test_passwords_are_hashed_and_emails_sealed(backend):
    shop = backend.tenant()
    backend.run(users.add_user(backend.store, shop.sid, "mia@shop.example", PASSWORD, "owner"))

    async def stored():
        async with backend.store.db.sessions() as session:
            return (await session.scalars(select(User))).one()

    row = backend.run(stored())
    assert row.password_hash.startswith("$argon2id$")
    assert b"mia@shop.example" not in row.email and "mia" not in row.email_index
    refused = [
        ("short", "mia2@shop.example", "owner"),
        (PASSWORD, "not-an-email", "owner"),
        (PASSWORD, "mia3@shop.example", "admin"),
        (PASSWORD, "mia@shop.example", "owner"),  # taken
    ]
    for password, email, role in refused:
        with pytest.raises(DomainError) as exc:
            backend.run(users.add_user(backend.store, shop.sid, email, password, role))
        assert exc.value.http_status in (400, 409), exc.value


def test_a_form_made_before_a_new_master_key_still_goes_through_while_the_ring_holds_both(
    settings, backend
):
    """A form open in a browser across the restart that brings a new master key in: its CSRF
    token was made under the old key, which is still in the ring. A forged one is still
    refused."""
    shop = backend.tenant()
    before = ServerThread(create_app(settings))
    try:
        client = signed_in(before.url, shop)
        made_before = csrf_on(client, "/send")
    finally:
        before.stop()
    old = settings.master_key.get_secret_value()
    rotated = settings.model_copy(update={"master_key": SecretStr(f"{new_key()},{old}")})
    after = ServerThread(create_app(rotated), port=before.port)
    try:
        form = {"to": TO, "sender": shop.sender, "body": "hi"}
        assert csrf_on(client, "/send") != made_before  # new forms carry the new key's
        assert client.post("/send", data={**form, "csrf": "0" * 32}).status_code == 403
        assert client.post("/send", data={**form, "csrf": made_before}).status_code == 303
    finally:
        after.stop()
