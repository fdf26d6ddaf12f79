"""The FastAPI application: Twilio-compatible API, dashboard, health, metrics, and (optionally)
the worker and the demo simulators in the same process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from smsvia import __version__
from smsvia.api import (
    audit,
    campaigns,
    contacts,
    errors,
    keys,
    mm7_webhook,
    native_messages,
    rcs_webhook,
    segments,
    tracking,
    twilio_media,
    twilio_messages,
)
from smsvia.api.audit_trail import AuditTrail
from smsvia.api.nul import RefuseNul
from smsvia.config import Settings
from smsvia.runtime import Runtime, open_runtime
from smsvia.services.accounts import Credentials
from smsvia.web import links as short_links
from smsvia.web import routes as dashboard

if TYPE_CHECKING:
    from smsvia.sim.mmsc import MmscSimulator
    from smsvia.sim.smsc import SmscSimulator


@dataclass(frozen=True)
class Demo:
    """What `serve --demo` set up, for the banner."""

    credentials: Credentials
    sender: str
    rcs_sender: str
    smsc_address: str
    rbm_url: str
    optin_form: str  # the demo shop's sign-up form SID
    smsc: SmscSimulator  # the demo phone page texts through it
    mmsc: MmscSimulator  # and shows the MMS it received


def create_app(
    settings: Settings,
    runtime: Runtime | None = None,
    *,
    run_worker: bool = False,
    demo: bool = False,
    on_ready: Callable[[FastAPI], None] | None = None,
) -> FastAPI:
    """The app; it opens (and closes) its own runtime unless one is given.

    `run_worker` runs the dispatch (worker, SMPP channels, receipts, callbacks) in this
    process; `demo` starts the SMSC simulator and wires a demo account to it.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if runtime is None:
                app.state.runtime = await open_runtime(settings)
                stack.push_async_callback(app.state.runtime.close)
            else:
                app.state.runtime = runtime
            if demo:
                app.state.demo = await _start_demo(app.state.runtime, stack, settings)
            if run_worker:
                from smsvia.dispatch.runner import Dispatch

                dispatch = Dispatch(
                    app.state.runtime.store,
                    worker_config=settings.worker_config(),
                    price_book=app.state.runtime.price_book,
                    rules=app.state.runtime.rules,
                    public_url=settings.public_url,
                    default_region=settings.default_region,
                    allow_private_urls=settings.allow_private_urls,
                    retention=settings.retention(),
                )
                await dispatch.start()
                stack.push_async_callback(dispatch.stop)
            if on_ready is not None:
                on_ready(app)
            yield

    app = FastAPI(title="smsvia", version=__version__, lifespan=lifespan)
    errors.install(app)
    app.add_middleware(AuditTrail)
    app.add_middleware(RefuseNul)
    # A request is matched against the routers in the order they are included, and FastAPI
    # spends about 10 µs on each router it passes (a short-link click behind the whole API and
    # dashboard took 0.2 ms to find). So what carries the traffic comes first: sends, the
    # clicks on a campaign's links, the events RBM and MMSCs push, shops' order webhooks.
    # No path of one router is matched by another's (tests/integration/test_routes.py), so
    # the order changes only the time it takes.
    app.include_router(twilio_messages.router, responses=errors.ERROR_RESPONSES)
    app.include_router(native_messages.router, responses=errors.ERROR_RESPONSES)
    app.include_router(short_links.router)
    app.include_router(rcs_webhook.router, responses=errors.ERROR_RESPONSES)
    app.include_router(mm7_webhook.router)
    app.include_router(tracking.router, responses=errors.ERROR_RESPONSES)
    app.include_router(twilio_media.router, responses=errors.ERROR_RESPONSES)
    app.include_router(keys.router, responses=errors.ERROR_RESPONSES)
    app.include_router(audit.router, responses=errors.ERROR_RESPONSES)
    app.include_router(contacts.router, responses=errors.ERROR_RESPONSES)
    app.include_router(segments.router, responses=errors.ERROR_RESPONSES)
    app.include_router(campaigns.router, responses=errors.ERROR_RESPONSES)
    dashboard.install(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> dict[str, str]:
        async with request.app.state.runtime.store.db.sessions() as session:
            await session.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


async def _start_demo(
    runtime: Runtime, stack: contextlib.AsyncExitStack, settings: Settings
) -> Demo:
    from smsvia.services import demo
    from smsvia.sim.mmsc import MmscBehaviour, MmscSimulator
    from smsvia.sim.rbm import RbmBehaviour, RbmSimulator
    from smsvia.sim.smsc import SmscBehaviour, SmscSimulator

    behaviour = SmscBehaviour(
        system_id=demo.SMSC_SYSTEM_ID, password=demo.SMSC_PASSWORD, dlr_delay=1.0
    )
    smsc = SmscSimulator(behaviour=behaviour)
    port = await smsc.start()
    stack.push_async_callback(smsc.stop)
    # Slower than the simulator's defaults, so a person can watch it happen.
    rbm = RbmSimulator(
        RbmBehaviour(
            client_token=demo.RBM_CLIENT_TOKEN,
            webhook_url=f"{settings.public_url.rstrip('/')}/rcs/{demo.RBM_CONNECTOR}/events",
            delivered_after=1.0,
            read_after=3.0,
        )
    )
    await rbm.start()
    stack.push_async_callback(rbm.stop)
    mmsc = MmscSimulator(
        MmscBehaviour(
            vasp_url=f"{settings.public_url.rstrip('/')}/mm7/{demo.MMS_CONNECTOR}",
            delivered_after=1.0,
        )
    )
    await mmsc.start()
    stack.push_async_callback(mmsc.stop)
    credentials = await demo.prepare_demo(runtime.store, "127.0.0.1", port, rbm.base_url, mmsc.url)
    form = await demo.demo_form(runtime.store, credentials.sid)
    await demo.demo_audience(runtime.store, credentials.sid)
    return Demo(
        credentials,
        demo.SENDER,
        demo.RCS_SENDER,
        f"127.0.0.1:{port}",
        rbm.base_url,
        form,
        smsc,
        mmsc,
    )
