"""The HTTP pool the RBM and MM7 channels share, against a platform over a real socket that
answers too much: a body without end, or a longer one than any platform's answer."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from smsvia.channels.http import ANSWER_LIMIT, HttpPool, Unanswered

SMALL = b'{"name": "phones/+14155550100/agentMessages/1"}'


async def _platform(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers GET /small with a short JSON and /long with a body one byte over the limit,
    keeping the connection for the next request; /endless with 16 KiB every 5 ms until the
    client hangs up (or a minute passes)."""
    try:
        while True:
            request = await reader.readuntil(b"\r\n\r\n")
            path = request.split(b" ", 2)[1]
            if path == b"/endless":
                break
            body = SMALL if path == b"/small" else b"x" * (ANSWER_LIMIT + 1)
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
            writer.write(body)
            await writer.drain()
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            writer.write(b"x" * 16384)
            await writer.drain()
            await asyncio.sleep(0.005)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # the client hung up
    finally:
        writer.close()


@pytest.mark.parametrize("path", ["/endless", "/long"])
def test_an_answer_longer_than_any_platforms_is_unanswered_and_the_pool_goes_on(path):
    async def scenario():
        server = await asyncio.start_server(_platform, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        pool = HttpPool(concurrency=1, timeout=30)
        try:
            with pytest.raises(Unanswered, match="answer longer than 1,048,576 bytes"):
                await pool.request("GET", f"{base}{path}")
            return await pool.request("GET", f"{base}/small")
        finally:
            await pool.close()
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)

    answer = asyncio.run(scenario())
    assert (answer.status, answer.body) == (200, SMALL)
