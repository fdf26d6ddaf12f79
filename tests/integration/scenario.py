"""A running dispatch against the SMSC simulator, for the tests that send for real."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

from smsvia.channels.smpp import SmppChannel, SmppConfig
from smsvia.dispatch.runner import Dispatch
from smsvia.dispatch.worker import WorkerConfig
from smsvia.services.message_views import get_message
from smsvia.services.messages import SendRequest, send_message
from smsvia.services.quote import load_price_book
from smsvia.sim.smsc import SmscBehaviour, SmscSimulator
from smsvia.webhooks.dispatcher import WebhookConfig

BOOK = load_price_book()
FAST = WorkerConfig(poll_interval=0.05, retry_initial=0.1, retry_max=0.5, lease_seconds=30)
QUICK_RETRIES = WebhookConfig(backoff_initial=0.1, backoff_max=0.5, poll_interval=0.05, timeout=5)


class Scenario:
    """A simulator, a tenant whose connector points at it, and a running dispatch."""

    def __init__(
        self,
        backend,
        behaviour: SmscBehaviour | None = None,
        connect_timeout: float = 10.0,
        # Instead of the connector's own (whole seconds, 1 at least): quicker late answers.
        response_timeout_override: float | None = None,
        webhook_config: WebhookConfig = QUICK_RETRIES,
        dispatch_options: dict | None = None,
        **tenant_options,
    ):
        self.backend = backend
        self.dispatch_options = dispatch_options or {}
        self.connect_timeout = connect_timeout
        self.response_timeout_override = response_timeout_override
        self.webhook_config = webhook_config
        self.sim = SmscSimulator(behaviour=behaviour or SmscBehaviour(dlr_delay=0.02))
        self.tenant_options = tenant_options
        self.dispatch: Dispatch | None = None

    async def __aenter__(self):
        port = await self.sim.start()
        self.shop = await self.backend.create_tenant(smsc_port=port, **self.tenant_options)
        self.dispatch = Dispatch(
            self.backend.store,
            allow_private_urls=True,  # the shop's callback receiver is on 127.0.0.1
            worker_config=FAST,
            webhook_config=self.webhook_config,
            channel_factory=self._channel,
            **self.dispatch_options,
        )
        await self.dispatch.start()
        return self

    def _channel(self, name: str, config: SmppConfig) -> SmppChannel:
        config = replace(config, connect_timeout=self.connect_timeout)
        if self.response_timeout_override is not None:
            config = replace(config, response_timeout=self.response_timeout_override)
        return SmppChannel(name, config)

    async def __aexit__(self, *exc):
        await self.dispatch.stop()
        await self.sim.stop()

    async def send(self, to: str, body: str = "Your order has shipped", **options):
        return await send_message(
            self.backend.store,
            self.shop.principal,
            SendRequest(to=to, sender=self.shop.sender, body=body, **options),
            price_book=BOOK,
            allow_private_urls=True,  # the shop's callback receiver is on 127.0.0.1
        )

    async def wait_for(self, sid: str, *statuses: str, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        while True:
            view = await get_message(
                self.backend.store, self.shop.principal, sid, with_timeline=True
            )
            if view.status in statuses:
                return view
            if time.monotonic() > deadline:
                raise AssertionError(f"{sid} is {view.status}, not {statuses}: {view.timeline}")
            await asyncio.sleep(0.05)


class ThreadedSmsc:
    """The SMSC simulator on its own event loop in a thread, for tests whose worker is
    another process. Read its records once the run is over (or for rough progress)."""

    def __init__(self, behaviour: SmscBehaviour | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self.sim = SmscSimulator(behaviour=behaviour or SmscBehaviour(dlr_delay=0.05))
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.sim.start(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
