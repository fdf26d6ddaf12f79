"""HTTP simulators' common ground: a server embedded in the process that runs it (a test,
`serve --demo`), a client for what the simulator posts back, and timers for what it does
later (a report, an event): posted with the server's own platform client (channels/http.py),
cheap enough that a benchmark's simulator does not eat the machine it measures."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from fastapi import FastAPI

from smsvia.channels.http import HttpPool


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside another program: the host process owns the signals."""

    _serving: asyncio.Task[None]

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    @classmethod
    async def start(cls, app: FastAPI, host: str, port: int) -> tuple[EmbeddedServer, int]:
        """Serve `app` on host:port (0: any free port); returns the server and its port."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # No log_config nor log_level: uvicorn would reconfigure the logging of the process
        # this simulator is embedded in (serve --demo), silencing its own server's lines.
        config = uvicorn.Config(
            app, log_config=None, log_level=None, lifespan="off", access_log=False
        )
        server = cls(config)
        server._serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if server._serving.done():
                await server._serving  # raises why it could not start
            await asyncio.sleep(0.01)
        return server, sock.getsockname()[1]

    async def stop(self) -> None:
        self.should_exit = True
        await self._serving


class HttpSimulator:
    """What the RBM and MMSC simulators share; a subclass builds `app` and may set `login`
    (user, password) for the requests it makes."""

    app: FastAPI
    login: tuple[str, str] | None = None

    def __init__(self) -> None:
        self.port = 0
        self._timers: set[asyncio.Task[None]] = set()
        self._server: EmbeddedServer | None = None
        self._http: HttpPool | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._http = HttpPool(concurrency=100, timeout=5, login=self.login)
        self._server, self.port = await EmbeddedServer.start(self.app, host, port)
        return self.port

    async def stop(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
        if self._server is not None:
            await self._server.stop()
        if self._http is not None:
            await self._http.close()

    def _later(self, delay: float, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` after `delay` seconds, unless the simulator stops first."""

        async def run() -> None:
            await asyncio.sleep(delay)
            await work()

        task = asyncio.create_task(run())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)
