"""The FastAPI application: Twilio-compatible API and health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from sqlalchemy import text

from smsvia import __version__
from smsvia.api import errors, twilio_messages
from smsvia.config import Settings
from smsvia.runtime import Runtime, open_runtime


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """The app; it opens (and closes) its own runtime unless one is given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        app.state.runtime = runtime or await open_runtime(settings)
        try:
            yield
        finally:
            if owned:
                await app.state.runtime.close()

    app = FastAPI(title="smsvia", version=__version__, lifespan=lifespan)
    errors.install(app)
    app.include_router(twilio_messages.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> dict[str, str]:
        async with request.app.state.runtime.store.db.sessions() as session:
            await session.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    return app
