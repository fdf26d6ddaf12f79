"""An HTTP simulator's server, embedded in the process that runs it (a test, `serve --demo`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI


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
