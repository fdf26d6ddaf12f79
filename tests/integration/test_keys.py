"""API keys and auth tokens, on both databases: Twilio's Keys resource through twilio-python,
restricted keys, and revocation that takes effect on the very next request — also when
another process (the CLI) revokes, with the server's login cache warm."""

from __future__ import annotations

import json

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from smsvia.services import keys
from tests.integration.test_cli_connectors import smsvia

TO = "+12125551000"


def client(server: str, username: str, password: str, account_sid: str) -> Client:
    made = Client(username, password, account_sid, http_client=TwilioHttpClient())
    made.api.base_url = server
    return made


def code_of(call) -> tuple[int, int]:
    """The HTTP status and Twilio code a call was refused with (twilio-python raises a
    plain TwilioException, with the response, for a page it cannot fetch)."""
    with pytest.raises(TwilioException) as refused:
        call()
    error = refused.value
    if isinstance(error, TwilioRestException):
        return error.status, error.code
    response = error.args[1]
    return response.status_code, json.loads(response.text)["code"]


def test_keys_made_listed_and_deleted_with_twilio_python(server, backend):
    shop = backend.tenant()
    owner = client(server, shop.sid, shop.token, shop.sid)
    made = owner.new_keys.create(friendly_name="storefront")
    assert made.sid.startswith("SK") and len(made.secret) == 32
    by_key = client(server, made.sid, made.secret, shop.sid)
    assert by_key.messages.create(to=TO, from_=shop.sender, body="via key").status == "queued"
    assert [k.sid for k in owner.keys.list()] == [made.sid]
    assert owner.keys(made.sid).fetch().friendly_name == "storefront"
    assert owner.keys(made.sid).delete()
    # The key's success is in the server's login cache; it must not outlive the delete.
    assert code_of(lambda: by_key.messages.list()) == (401, 20003)
    assert code_of(lambda: owner.keys(made.sid).fetch()) == (404, 20404)


def test_a_restricted_key_gets_403_outside_its_scopes(server, backend):
    shop = backend.tenant()
    made = backend.run(keys.create_key(backend.store, shop.sid, "reports", ["messages:read"]))
    reader = client(server, made.key.sid, made.secret, shop.sid)
    assert reader.messages.list() == []
    assert code_of(lambda: reader.messages.create(to=TO, from_=shop.sender, body="x")) == (
        403,
        20403,
    )
    assert code_of(lambda: reader.new_keys.create(friendly_name="more")) == (403, 20403)


def test_a_key_revoked_from_the_cli_stops_at_once(server, backend, settings):
    shop = backend.tenant()
    made = json.loads(
        smsvia(
            settings,
            "keys",
            "create",
            shop.sid,
            "--name",
            "ci",
            "--scope",
            "messages:read",
            "--json",
        ).stdout
    )
    assert made["scopes"] == ["messages:read"]
    by_key = client(server, made["sid"], made["secret"], shop.sid)
    assert by_key.messages.list() == []  # now cached by the server
    assert smsvia(settings, "keys", "delete", shop.sid, made["sid"]).returncode == 0
    assert code_of(lambda: by_key.messages.list()) == (401, 20003)


def test_a_token_rotated_from_the_cli_stops_at_once(server, backend, settings):
    shop = backend.tenant()
    before = client(server, shop.sid, shop.token, shop.sid)
    assert before.messages.list() == []  # cached
    rotated = json.loads(smsvia(settings, "accounts", "rotate-token", shop.sid, "--json").stdout)
    assert rotated["sid"] == shop.sid and rotated["auth_token"] != shop.token
    assert code_of(lambda: before.messages.list()) == (401, 20003)
    after = client(server, shop.sid, rotated["auth_token"], shop.sid)
    assert after.messages.list() == []


def test_unknown_scopes_are_refused(backend, settings):
    shop = backend.tenant()
    answer = smsvia(settings, "keys", "create", shop.sid, "--scope", "everything")
    assert answer.returncode != 0 and "unknown scope 'everything'" in answer.stderr
