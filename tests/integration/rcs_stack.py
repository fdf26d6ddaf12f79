"""The whole server (API, worker, webhook) between an SMSC and an RBM simulator."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx

from smsvia.api.app import create_app
from smsvia.services import accounts, senders
from smsvia.sim.embedded import HttpSimulator
from smsvia.sim.rbm import RbmBehaviour, RbmSimulator
from smsvia.store import accounts as account_queries
from tests.integration.conftest import ServerThread, Tenant
from tests.integration.scenario import ThreadedSmsc
from tests.processes import free_port

CLIENT_TOKEN = "shop-client-token"
SENDER = "+15005550006"


class ThreadedSimulator:
    """An HTTP simulator (RBM, MMSC) on its own event loop in a thread."""

    def __init__(self, sim: HttpSimulator) -> None:
        self._loop = asyncio.new_event_loop()
        self.sim = sim
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.port = self.call(sim.start())
        self.base_url = f"http://127.0.0.1:{self.port}"

    def call(self, coroutine, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def stop(self) -> None:
        self.call(self.sim.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


class ThreadedRbm(ThreadedSimulator):
    sim: RbmSimulator

    def __init__(self, behaviour: RbmBehaviour) -> None:
        super().__init__(RbmSimulator(behaviour))


class RcsStack:
    """A tenant whose sender has an SMPP and an RCS connector; the app with its worker."""

    def __init__(
        self,
        backend,
        settings,
        *,
        rbm: RbmBehaviour | None = None,
        rbm_url: str | None = None,
        rbm_timeout: float = 10.0,
        sms_url: str | None = None,
    ) -> None:
        self.backend = backend
        self.smsc = ThreadedSmsc()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        behaviour = rbm or RbmBehaviour()
        behaviour.client_token = CLIENT_TOKEN
        behaviour.webhook_url = f"{self.url}/rcs/rbm/events"
        self.rbm = ThreadedRbm(behaviour)
        self.shop = backend.run(self._tenant(rbm_url or self.rbm.base_url, rbm_timeout, sms_url))
        # Quick polling, so fallbacks are seen within a test's patience.
        settings = settings.model_copy(update={"worker_poll_interval": 0.05})
        self._server = ServerThread(create_app(settings, run_worker=True), port=self.port)
        self.http = httpx.Client(base_url=self.url, auth=(self.shop.sid, self.shop.token))

    async def _tenant(self, rbm_url: str, timeout: float, sms_url: str | None) -> Tenant:
        """An account whose sender has an SMPP and an RCS connector."""
        store = self.backend.store
        created = await accounts.create_account(store, "shop")
        smpp = senders.SmppSettings("127.0.0.1", self.smsc.port, "smsvia", tps=1000, window=10)
        await senders.add_smpp_connector(store, "smsc", smpp, "secret")
        rcs = senders.RcsSettings(rbm_url, "shop-agent", timeout=timeout)
        await senders.add_rcs_connector(store, "rbm", rcs, CLIENT_TOKEN)
        await senders.add_number(
            store, created.sid, SENDER, connector="smsc", rcs_connector="rbm", sms_url=sms_url
        )
        async with store.db.sessions() as session:
            account = await account_queries.account_by_sid(session, created.sid)
        return Tenant(created.sid, created.secret, SENDER, account.id)

    def send(self, to: str, **payload) -> dict:
        body = {"to": to, "from": self.shop.sender, **payload}
        answer = self.http.post("/v1/messages", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def wait_for(self, sid: str, *statuses: str, event: str | None = None, timeout=20) -> dict:
        """The message once it is in one of `statuses` (or its timeline has `event`)."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.http.get(f"/v1/messages/{sid}").json()
            if message["status"] in statuses:
                return message
            if event is not None and event in [e["event"] for e in message["timeline"]]:
                return message
            if time.monotonic() > deadline:
                raise AssertionError(f"{sid} is {message['status']}: {message['timeline']}")
            time.sleep(0.05)

    def smsc_destinations(self) -> list[str]:
        return [submit.destination for submit in self.smsc.sim.accepted]

    def close(self) -> None:
        self.http.close()
        self._server.stop()
        self.rbm.stop()
        self.smsc.stop()
