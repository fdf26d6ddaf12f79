"""Secrets never reach the logs: a whole run of `smsvia serve` at debug level, and every
command that set it up, with every kind of secret in play — an auth token, an API key's
secret, an SMPP password, the Shopify webhook secret, a dashboard user's password, wrong
passwords and tokens, the session cookie, the master key — and then the logs are searched
for each of them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time

import httpx

from smsvia.sim.smsc import SmscBehaviour
from tests.integration.scenario import ThreadedSmsc
from tests.processes import SMSVIA, Running, free_port

SMPP_PASSWORD = "Pw8x!kQz"  # SMPP allows eight characters
SHOPIFY_SECRET = "shpss_9f3c2a7e51d04b86"
USER_PASSWORD = "violet-harbour-lantern-42"
WRONG_PASSWORD = "guessing-at-midnight-17"
WRONG_TOKEN = "0123456789abcdef0123456789abcdef"


def test_no_secret_of_a_whole_run_is_in_its_logs(settings, tmp_path, callback_receiver):
    smsc = ThreadedSmsc(SmscBehaviour(system_id="shop", password=SMPP_PASSWORD, dlr_delay=0.05))
    port = free_port()
    env = {
        **os.environ,
        "SMSVIA_DATABASE_URL": settings.resolved_database_url,
        "SMSVIA_DATA_DIR": str(settings.data_dir),
        "SMSVIA_MASTER_KEY": settings.master_key.get_secret_value(),
        "SMSVIA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SMSVIA_ALLOW_PRIVATE_URLS": "1",
        "SMSVIA_LOG_LEVEL": "debug",
    }
    logs: list[str] = []

    def cli(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [SMSVIA, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr
        logs.append(done.stderr)  # its output is for the operator; its logs must be clean
        return done.stdout

    try:
        account = json.loads(cli("accounts", "create", "shop", "--json"))
        sid, token = account["sid"], account["auth_token"]
        cli("connectors", "add", "smpp", "carrier", "--host", "127.0.0.1", "--port",
            str(smsc.port), "--system-id", "shop", "--password", SMPP_PASSWORD)  # fmt: skip
        cli("numbers", "add", sid, "+15005550006", "--connector", "carrier")
        key = json.loads(cli("keys", "create", sid, "--name", "storefront", "--json"))
        cli("accounts", "update", sid, "--shopify-secret", SHOPIFY_SECRET)
        cli("users", "add", sid, "mia@shop.example", "--role", "marketer", stdin=USER_PASSWORD)

        server = Running(["serve", "--port", str(port)], tmp_path, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_up(base)
            cookie = _exercise(base, sid, key, callback_receiver)
        finally:
            server.stop()
        logs.append(server.err.read_text() + server.out.read_text())
    finally:
        smsc.stop()

    everything = "\n".join(logs)
    assert "dispatch started" in everything and "DEBUG" in everything  # the logs were written
    secrets = {
        "auth token": token,
        "API key secret": key["secret"],
        "SMPP password": SMPP_PASSWORD,
        "Shopify secret": SHOPIFY_SECRET,
        "user's password": USER_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "wrong token": WRONG_TOKEN,
        "session cookie": cookie,
        "master key": settings.master_key.get_secret_value(),
        "Basic credentials": base64.b64encode(f"{key['sid']}:{key['secret']}".encode()).decode(),
    }
    leaked = [name for name, secret in secrets.items() if secret in everything]
    assert leaked == [], f"in the logs: {leaked}"


def _wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "serve did not start"
        time.sleep(0.1)


def _exercise(base: str, sid: str, key: dict, receiver) -> str:
    """Use every secret, and some wrong ones; the dashboard session's cookie comes back."""
    api = httpx.Client(base_url=base, auth=(key["sid"], key["secret"]), timeout=10)
    messages = f"/2010-04-01/Accounts/{sid}/Messages.json"
    form = {
        "To": "+14155550100",
        "From": "+15005550006",
        "Body": "Your order has shipped",
        "StatusCallback": f"{receiver.url}/status",
    }
    assert api.post(messages, data=form).status_code == 201
    wrong = httpx.post(f"{base}{messages}", data=form, auth=(sid, WRONG_TOKEN))
    assert wrong.status_code == 401

    body = json.dumps({"id": 1001, "total_price": "20.00", "currency": "USD"}).encode()
    digest = hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()
    shopify = httpx.post(
        f"{base}/webhooks/shopify/{sid}/orders",
        content=body,
        headers={"X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode()},
    )
    assert shopify.status_code in (200, 201), shopify.text

    browser = httpx.Client(base_url=base, timeout=10)
    refused = browser.post("/login", data={"login": "mia@shop.example", "password": WRONG_PASSWORD})
    assert refused.status_code == 401
    signed = browser.post("/login", data={"login": "mia@shop.example", "password": USER_PASSWORD})
    assert signed.status_code == 303
    assert browser.get("/messages").status_code == 200

    deadline = time.monotonic() + 20
    while not any(c.params.get("MessageStatus") == "delivered" for c in receiver.received):
        assert time.monotonic() < deadline, "no delivered callback"
        time.sleep(0.1)
    return browser.cookies["smsvia_session"]
