"""Rate limits per credential, on both databases: over the limit the API answers 429 with
code 20429 and Retry-After, and what it refused was never accepted; each credential counts
on its own; a limit set from the CLI applies to the next request; on PostgreSQL two server
processes share one limit."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import httpx
import pytest
from sqlalchemy import event
from twilio.base.exceptions import TwilioRestException

from smsvia.services import accounts, keys
from smsvia.services.rate_gate import SLICE, RateGate
from smsvia.store.database import Database
from tests.integration.test_cli_connectors import smsvia
from tests.integration.test_keys import client

TO = "+12125551000"


def send(server: str, username: str, password: str, account_sid: str, body: str):
    return httpx.post(
        f"{server}/2010-04-01/Accounts/{account_sid}/Messages.json",
        data={"To": TO, "From": "+15005550006", "Body": body},
        auth=(username, password),
        timeout=30,
    )


def burst(server: str, username: str, password: str, account_sid: str, count: int):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(
            pool.map(
                lambda n: send(server, username, password, account_sid, f"burst {n}"),
                range(count),
            )
        )


def limit(backend, account_sid: str, per_second: float) -> None:
    changes = accounts.AccountSettings(rate_limit=per_second)
    backend.run(accounts.update_settings(backend.store, account_sid, changes))


def test_over_the_limit_is_429_with_retry_after_and_nothing_refused_is_kept(server, backend):
    shop = backend.tenant()
    limit(backend, shop.sid, 2)
    answers = burst(server, shop.sid, shop.token, shop.sid, 12)
    accepted = [a.json()["sid"] for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 429]
    assert len(accepted) + len(refused) == 12
    assert 1 <= len(accepted) <= 4, [a.status_code for a in answers]  # a second's burst
    body = refused[0].json()
    assert body["code"] == 20429 and body["status"] == 429
    assert int(refused[0].headers["Retry-After"]) >= 1
    listed = client(server, shop.sid, shop.token, shop.sid)
    time.sleep(1.1)  # the listing itself is counted too
    assert sorted(m.sid for m in listed.messages.list()) == sorted(accepted)

    # twilio-python sees Twilio's error; after Retry-After the credential works again.
    with pytest.raises(TwilioRestException) as over:
        for _ in range(5):
            listed.messages.create(to=TO, from_=shop.sender, body="again")
    assert (over.value.status, over.value.code) == (429, 20429)
    time.sleep(int(refused[0].headers["Retry-After"]) + 0.1)
    assert listed.messages.create(to=TO, from_=shop.sender, body="later").status == "queued"


def test_each_credential_counts_on_its_own(server, backend):
    shop = backend.tenant()
    made = backend.run(keys.create_key(backend.store, shop.sid, "storefront", None))
    limit(backend, shop.sid, 1)
    by_token = burst(server, shop.sid, shop.token, shop.sid, 6)
    assert 429 in {a.status_code for a in by_token}
    # The key's bucket is full: the token's flood does not spend it.
    assert send(server, made.key.sid, made.secret, shop.sid, "by key").status_code == 201


def test_a_limit_set_from_the_cli_holds_from_the_next_request(server, backend, settings):
    shop = backend.tenant()
    # A warm login: on SQLite the server remembers it.
    assert {a.status_code for a in burst(server, shop.sid, shop.token, shop.sid, 6)} == {201}
    said = smsvia(settings, "accounts", "update", shop.sid, "--rate-limit", "60/m")
    assert said.returncode == 0 and "rate limit = 1/s" in said.stdout, said.stderr
    assert 429 in {a.status_code for a in burst(server, shop.sid, shop.token, shop.sid, 6)}
    smsvia(settings, "accounts", "update", shop.sid, "--rate-limit", "0")
    assert {a.status_code for a in burst(server, shop.sid, shop.token, shop.sid, 6)} == {201}

    wrong = smsvia(settings, "accounts", "update", shop.sid, "--rate-limit", "fast")
    assert wrong.returncode != 0 and "10/s" in wrong.stderr and "Traceback" not in wrong.stderr


RATE = 50


async def flat_out(gate: RateGate, until: float) -> int:
    admitted = 0
    while time.monotonic() < until:
        wait = await gate.admit("api:SKshared", RATE, RATE)
        if wait:
            await asyncio.sleep(min(wait, 0.01))
        else:
            admitted += 1
    return admitted


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_server_processes_share_one_limit(backend):
    async def scenario():
        other = Database(backend.store.db.url)  # a second process: its own engine
        try:
            gates = RateGate(backend.store.db), RateGate(other)
            started = time.monotonic()
            until = started + 3.0
            admitted = await asyncio.gather(*(flat_out(gate, until) for gate in gates))
            elapsed = time.monotonic() - started
            return admitted, elapsed
        finally:
            await other.close()

    admitted, elapsed = backend.run(scenario())
    # The full bucket, the refill, and a slice each in hand when time ran out.
    assert sum(admitted) <= RATE + RATE * elapsed + 2 * RATE * SLICE, admitted
    assert sum(admitted) >= RATE * elapsed * 0.6, admitted
    assert min(admitted) > 0, admitted


def test_refused_floods_do_not_reach_the_database(backend):
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        if "rate_buckets" in statement:
            statements.append(statement)

    engine = backend.store.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:

        async def flood() -> int:
            gate = RateGate(backend.store.db)
            return sum(
                [bool(await gate.admit("form:FT1:203.0.113.9", 1 / 120, 5)) for _ in range(2_000)]
            )

        refused = backend.run(flood())
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert refused == 1_995
    # PostgreSQL: a draw for each of the five admitted, one that found the bucket empty (a
    # draw is an UPDATE, plus an INSERT and a retry the first time). SQLite: memory only.
    assert len(statements) <= (0 if backend.store.db.is_sqlite else 9), statements
