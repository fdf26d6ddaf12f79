"""Real databases (SQLite and the machine's PostgreSQL) and a real HTTP server."""

from __future__ import annotations

import asyncio
import base64
import http.server
import os
import secrets
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from smsvia.api.app import create_app
from smsvia.config import Settings
from smsvia.runtime import open_store
from smsvia.services import accounts, senders
from smsvia.store import accounts as account_queries
from smsvia.store.schema import upgrade
from tests.processes import free_port

POSTGRES_ADMIN_URL = os.environ.get(
    "SMSVIA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> str | None:
    host_port = POSTGRES_ADMIN_URL.split("@", 1)[-1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    try:
        socket.create_connection((host, int(port or 5432)), timeout=2).close()
    except OSError as exc:
        return f"no PostgreSQL at {host_port} ({exc}); set SMSVIA_TEST_POSTGRES"
    return None


async def _admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty database of each kind, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'smsvia.db'}"
        return
    reason = _postgres_reachable()
    if reason:
        pytest.skip(reason)
    name = f"smsvia_test_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        allow_private_urls=True,  # callbacks, media and pages are served on 127.0.0.1
    )


@dataclass
class Tenant:
    """An account with a sender, as the API sees it."""

    sid: str
    token: str
    sender: str
    account_id: int
    connector: str = ""  # the sender's SMPP connector, where the test made one

    @property
    def principal(self) -> accounts.Principal:
        return accounts.Principal(self.account_id, self.sid, self.token, self.sid)


class Backend:
    """Direct access to the services, in its own event loop (the server runs in another)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = open_store(settings)
        self._loop = asyncio.new_event_loop()
        self.run(upgrade(self.store.db))
        self._connectors = 0

    def run(self, awaitable):
        return self._loop.run_until_complete(awaitable)

    def tenant(self, sender: str = "+15005550006", **options) -> Tenant:
        return self.run(self.create_tenant(sender, **options))

    async def create_tenant(
        self,
        sender: str = "+15005550006",
        *,
        smsc_port: int = 2775,
        password: str = "secret",
        window: int = 10,
        tps: int = 1000,
        sms_url: str | None = None,
        receipt_ids: str = "auto",
        enquire_link_interval: int = 30,
        response_timeout: int = 30,
    ) -> Tenant:
        """An account, an SMPP connector for it and a sender on that connector."""
        created = await accounts.create_account(self.store, "shop")
        self._connectors += 1
        name = f"smsc{self._connectors}"
        settings = senders.SmppSettings(
            "127.0.0.1",
            smsc_port,
            "smsvia",
            tps=tps,
            window=window,
            receipt_ids=receipt_ids,
            enquire_link_interval=enquire_link_interval,
            response_timeout=response_timeout,
        )
        await senders.add_smpp_connector(self.store, name, settings, password)
        await senders.add_number(self.store, created.sid, sender, connector=name, sms_url=sms_url)
        async with self.store.db.sessions() as session:
            account = await account_queries.account_by_sid(session, created.sid)
        return Tenant(
            created.sid, created.secret, senders.normalize_sender(sender), account.id, name
        )

    def close(self) -> None:
        self.run(self.store.db.close())
        self._loop.close()


@pytest.fixture
def backend(settings) -> Iterator[Backend]:
    backend = Backend(settings)
    yield backend
    backend.close()


class ServerThread:
    """An app under uvicorn on a loopback port, in a thread of its own, up when built."""

    def __init__(self, app, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)


@pytest.fixture
def server(settings, backend) -> Iterator[str]:
    """The real app under uvicorn on a loopback port; yields its base URL."""
    running = ServerThread(create_app(settings))
    yield running.url
    running.stop()


@dataclass
class ReceivedCallback:
    url: str
    params: dict[str, str]
    signature: str


class CallbackReceiver:
    """A real HTTP server standing in for a shop's webhook endpoint.

    It answers `failures` requests with 500 before it answers 200, and while `hold` is
    clear it keeps every request waiting (a receiver that is slow, or down but still
    accepting connections). With `keep_alive` it speaks HTTP/1.1 and keeps each connection
    open for as long as the client likes (HTTP/1.0 otherwise: one request a connection);
    `connections` counts those it was given. With `endless_answer` its 200 comes with a body
    that never ends (16 KiB every 10 ms, until the client hangs up or a minute has passed).
    A path in `redirects` is answered with its (status, Location) and kept in `redirected`;
    a GET is kept in `got`.
    """

    def __init__(self, *, keep_alive: bool = False, endless_answer: bool = False) -> None:
        self.received: list[ReceivedCallback] = []
        self.redirects: dict[str, tuple[int, str | None]] = {}
        self.redirected: list[ReceivedCallback] = []
        self.got: list[ReceivedCallback] = []
        self.connections = 0
        self.failures = 0
        self.lock = threading.Lock()
        self.hold = threading.Event()
        self.hold.set()
        self.waiting = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def setup(self):
                super().setup()
                with receiver.lock:
                    receiver.connections += 1

            def do_POST(self):
                receiver.waiting += 1
                receiver.hold.wait(timeout=60)
                receiver.waiting -= 1
                length = int(self.headers.get("Content-Length", 0))
                params = dict(
                    urllib.parse.parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
                )
                url = f"{receiver.url}{self.path}"
                signature = self.headers.get("X-Twilio-Signature", "")
                if self.path in receiver.redirects:
                    receiver.redirected.append(ReceivedCallback(url, params, signature))
                    self._redirect(*receiver.redirects[self.path])
                    return
                receiver.received.append(ReceivedCallback(url, params, signature))
                with receiver.lock:  # requests arrive on several threads at once
                    failing = receiver.failures > 0
                    receiver.failures -= failing
                self.send_response(500 if failing else 200)
                if endless_answer and not failing:
                    self.end_headers()  # no length: the body ends when the connection does
                    self._answer_forever()
                    return
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                url = f"{receiver.url}{self.path}"
                signature = self.headers.get("X-Twilio-Signature", "")
                receiver.got.append(ReceivedCallback(url, {}, signature))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _redirect(self, status, location):
                self.send_response(status)
                if location is not None:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _answer_forever(self):
                self.close_connection = True
                deadline = time.monotonic() + 60
                try:
                    while time.monotonic() < deadline:
                        self.wfile.write(b"x" * 16384)
                        self.wfile.flush()
                        time.sleep(0.01)
                except OSError:
                    pass  # the client hung up

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.hold.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def callback_receiver() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver()
    yield receiver
    receiver.close()
