"""The RCS channel against the RBM simulator over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import logging
import socket
import threading
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from smsvia.channels.rcs import RbmChannel, RcsConfig, RcsResult, RevokeOutcome, SendOutcome
from smsvia.domain.signature import rbm_signature
from smsvia.sim.rbm import RbmBehaviour, RbmSimulator

CAPABLE, OFFLINE, BROKEN, NOT_CAPABLE = (
    "+14155550102",
    "+14155550177",
    "+14155550155",
    "+14155550103",
)
TEXT = {"text": "Your order shipped"}


class EventSink:
    """A webhook that keeps what RBM pushes (the server side is tested elsewhere)."""

    def __init__(self) -> None:
        self.events: list[tuple[dict, str, bytes]] = []
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                data = base64.b64decode(body["message"]["data"])
                sink.events.append((json.loads(data), self.headers["X-Goog-Signature"], data))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def types(self, message_id: str) -> list[str]:
        return [e["eventType"] for e, _, _ in self.events if e.get("messageId") == message_id]


@pytest.fixture
def sink():
    sink = EventSink()
    yield sink
    sink.server.shutdown()


def run_with_sim(work, behaviour: RbmBehaviour | None = None, **config):
    async def main():
        sim = RbmSimulator(behaviour)
        await sim.start()
        channel = RbmChannel("rbm", RcsConfig(sim.base_url, "agent-1", **config))
        try:
            return await work(sim, channel)
        finally:
            await channel.close()
            await sim.stop()

    return asyncio.run(main())


def test_capability_follows_the_number_and_is_cached():
    async def work(sim, channel):
        answers = [await channel.capable(n) for n in (CAPABLE, NOT_CAPABLE, CAPABLE, NOT_CAPABLE)]
        return answers, sim.records.capability_checks

    answers, checks = run_with_sim(work)
    assert answers == [True, False, True, False]
    assert checks == 2


def test_capable_phone_gets_it_delivered_then_read_with_signed_events(sink):
    async def work(sim, channel):
        result = await channel.send(CAPABLE, "SM1", TEXT, 60)
        await asyncio.sleep(0.5)
        return result, sim.records

    result, records = run_with_sim(work, RbmBehaviour(webhook_url=sink.url, client_token="tok"))
    assert result.outcome == SendOutcome.ACCEPTED
    assert [m.message_id for m in records.delivered] == ["SM1"]
    assert records.delivered[0].content == TEXT and records.delivered[0].ttl == "60s"
    assert sink.types("SM1") == ["DELIVERED", "READ"]
    for _event, signature, data in sink.events:
        assert signature == rbm_signature("tok", data)


def test_send_outcomes_by_number():
    async def work(sim, channel):
        return [
            (await channel.send(number, f"SM{i}", TEXT, 60)).outcome
            for i, number in enumerate((NOT_CAPABLE, BROKEN, OFFLINE))
        ]

    assert run_with_sim(work) == [
        SendOutcome.NOT_CAPABLE,
        SendOutcome.FAILED,
        SendOutcome.ACCEPTED,
    ]


def test_sending_the_same_message_id_again_is_harmless():
    async def work(sim, channel):
        first = await channel.send(OFFLINE, "SM1", TEXT, 60)
        again = await channel.send(OFFLINE, "SM1", TEXT, 60)
        return first.outcome, again.outcome

    assert run_with_sim(work) == (SendOutcome.ACCEPTED, SendOutcome.ACCEPTED)


def test_revoke_before_delivery_means_never_delivered():
    async def work(sim, channel):
        await channel.send(CAPABLE, "SM1", TEXT, 60)
        revoked = await channel.revoke(CAPABLE, "SM1")
        await asyncio.sleep(0.3)
        return revoked.outcome, len(sim.records.delivered)

    behaviour = RbmBehaviour(delivered_after=0.1)
    assert run_with_sim(work, behaviour) == (RevokeOutcome.REVOKED, 0)


def test_revoke_after_delivery_is_refused_as_gone():
    async def work(sim, channel):
        await channel.send(CAPABLE, "SM1", TEXT, 60)
        await asyncio.sleep(0.2)
        return (await channel.revoke(CAPABLE, "SM1")).outcome

    assert run_with_sim(work) == RevokeOutcome.GONE


def send_revoke_and_ask(url: str) -> tuple[RcsResult, RcsResult, bool | None]:
    """A send, a revoke and a capability check against `url`, each given 0.3 s."""

    async def main():
        channel = RbmChannel("rbm", RcsConfig(url, "agent-1", timeout=0.3))
        try:
            sent = await channel.send(CAPABLE, "SM1", TEXT, 60)
            revoked = await channel.revoke(CAPABLE, "SM1")
            return sent, revoked, await channel.capable(CAPABLE)
        finally:
            await channel.close()

    return asyncio.run(main())


def test_a_platform_that_never_answers_is_unanswered_not_failed():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        sent, revoked, capable = send_revoke_and_ask(f"http://127.0.0.1:{silent.getsockname()[1]}")
    assert (sent.outcome, revoked.outcome, capable) == (
        SendOutcome.UNANSWERED,
        RevokeOutcome.FAILED,
        None,
    )


def test_a_platform_nobody_listens_on_is_unreached_for_a_send():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        sent, revoked, capable = send_revoke_and_ask(f"http://127.0.0.1:{closed.getsockname()[1]}")
    assert (sent.outcome, revoked.outcome, capable) == (
        SendOutcome.UNREACHED,
        RevokeOutcome.FAILED,
        None,
    )
    assert sent.detail.startswith("RBM unreachable: ConnectError")


def test_service_account_credentials_put_a_bearer_token_on_every_call(tmp_path):
    token_server = _TokenEndpoint()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    credentials = tmp_path / "service-account.json"
    credentials.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "shop",
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "rbm@shop.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_server.url,
            }
        )
    )

    async def work(sim, channel):
        await channel.capable(CAPABLE)
        await channel.send(OFFLINE, "SM1", TEXT, 60)
        return sim.records.authorizations

    try:
        seen = run_with_sim(work, credentials_file=str(credentials))
    finally:
        token_server.server.shutdown()
    assert seen == ["Bearer token-from-google-auth"] * 2
    assert token_server.grants == 1  # fetched once, reused until it expires


class _TokenEndpoint:
    def __init__(self) -> None:
        self.grants = 0
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.grants += 1
                body = json.dumps(
                    {"access_token": "token-from-google-auth", "expires_in": 3600}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_failing_capability_checks_are_said_once_a_minute_not_once_a_message(caplog):
    async def main():
        sim = RbmSimulator()
        await sim.start()
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
            down = f"http://127.0.0.1:{closed.getsockname()[1]}"
            channel = RbmChannel("rbm", RcsConfig(down, "agent-1", timeout=0.3))
            try:
                answers = [await channel.capable(CAPABLE) for _ in range(30)]
                channel.config = replace(channel.config, base_url=sim.base_url)
                answers.append(await channel.capable(CAPABLE))
                channel.config = replace(channel.config, base_url=down)
                answers.append(await channel.capable(OFFLINE))
                return answers
            finally:
                await channel.close()
                await sim.stop()

    with caplog.at_level(logging.INFO, logger="smsvia.channels.rcs"):
        answers = asyncio.run(main())
    assert answers == [None] * 30 + [True, None]
    said = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert [level for level, _ in said] == ["WARNING", "INFO", "WARNING"]
    assert said[0][1].startswith("RBM capability checks fail on rbm: ConnectError")
    assert said[1][1] == "RBM capability checks on rbm answer again"
