"""The whole server (API, worker, MM7 webhook) between an SMSC simulator, an MMSC simulator
and a web server holding the shop's pictures."""

from __future__ import annotations

import http.server
import threading
import time

import httpx

from smsvia.api.app import create_app
from smsvia.services import accounts, senders
from smsvia.sim.mmsc import MmscBehaviour, MmscSimulator
from smsvia.store import accounts as account_queries
from tests.integration.conftest import ServerThread, Tenant
from tests.integration.rcs_stack import ThreadedSimulator
from tests.integration.scenario import ThreadedSmsc
from tests.processes import free_port

SENDER = "+15005550006"


class ThreadedMmsc(ThreadedSimulator):
    sim: MmscSimulator

    def __init__(self, behaviour: MmscBehaviour) -> None:
        super().__init__(MmscSimulator(behaviour))
        self.url = self.sim.url


class PictureHost:
    """The shop's web server: a path answers with its (content type, bytes), others 404."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, bytes]] = {}
        self.requests: list[str] = []
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host.requests.append(self.path)
                found = host.files.get(self.path)
                if found is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", found[0])
                self.send_header("Content-Length", str(len(found[1])))
                self.end_headers()
                self.wfile.write(found[1])

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def put(self, path: str, content_type: str, data: bytes) -> str:
        self.files[path] = (content_type, data)
        return f"{self.url}{path}"

    def close(self) -> None:
        self._server.shutdown()


class MmsStack:
    """A tenant whose sender has an SMPP and an MM7 connector; the app with its worker."""

    def __init__(
        self,
        backend,
        settings,
        *,
        max_bytes: int = 600 * 1024,
        timeout: float = 30.0,
        sms_url: str | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.backend = backend
        self.smsc = ThreadedSmsc()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        username, password = credentials or (None, None)
        self.mmsc = ThreadedMmsc(
            MmscBehaviour(
                vasp_url=f"{self.url}/mm7/mmsc",
                username=username,
                password=password,
                hang=2.0,
            )
        )
        self.pictures = PictureHost()
        mm7 = senders.Mm7Settings(
            self.mmsc.url, "shop", "svc", username, max_bytes=max_bytes, timeout=timeout
        )
        self.shop = backend.run(self._tenant(mm7, password, sms_url))
        settings = settings.model_copy(
            update={
                "worker_poll_interval": 0.05,
                "public_url": self.url,
                "allow_private_urls": True,  # the pictures are on 127.0.0.1
            }
        )
        self._server = ServerThread(create_app(settings, run_worker=True), port=self.port)
        self.http = httpx.Client(base_url=self.url, auth=(self.shop.sid, self.shop.token))

    async def _tenant(
        self, mm7: senders.Mm7Settings, password: str | None, sms_url: str | None
    ) -> Tenant:
        store = self.backend.store
        created = await accounts.create_account(store, "shop")
        smpp = senders.SmppSettings("127.0.0.1", self.smsc.port, "smsvia", tps=1000, window=10)
        await senders.add_smpp_connector(store, "smsc", smpp, "secret")
        await senders.add_mm7_connector(store, "mmsc", mm7, password)
        await senders.add_number(
            store, created.sid, SENDER, connector="smsc", mms_connector="mmsc", sms_url=sms_url
        )
        async with store.db.sessions() as session:
            account = await account_queries.account_by_sid(session, created.sid)
        return Tenant(created.sid, created.secret, SENDER, account.id)

    def wait_for(self, sid: str, *statuses: str, timeout: float = 20) -> dict:
        """The message (native view, with its timeline) once it is in one of `statuses`."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.http.get(f"/v1/messages/{sid}").json()
            if message["status"] in statuses:
                return message
            if time.monotonic() > deadline:
                raise AssertionError(f"{sid} is {message['status']}: {message['timeline']}")
            time.sleep(0.05)

    def texts_to(self, handset: str) -> list[str]:
        """What the handset received by SMS."""
        return self.smsc.sim.texts_to(handset)

    def close(self) -> None:
        self.http.close()
        self._server.stop()
        self.mmsc.stop()
        self.smsc.stop()
        self.pictures.close()
