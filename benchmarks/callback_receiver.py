"""A shop's callback endpoint for the benchmarks: counts delivery callbacks and answers fast.

Both gateways post here: smsvia its StatusCallback (form posts, `MessageStatus`), Kannel its
`dlr-url` (GET with `type=%d`: 1 is delivered). It runs in a process of its own on uvloop
with httptools' parser, so it costs both the same and is never what a run measures.
`GET /stats` answers the counts so far and when the last delivered callback came.

Run: python benchmarks/callback_receiver.py --port P
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import httptools

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nOK"


class Counts:
    def __init__(self) -> None:
        self.by_status: Counter[str] = Counter()  # "smsvia:delivered", "kannel:1", ...
        self.last_delivered = 0.0
        self.started = time.time()

    def seen(self, who: str, status: str) -> None:
        self.by_status[f"{who}:{status}"] += 1
        if (who, status) in (("smsvia", "delivered"), ("kannel", "1")):
            self.last_delivered = time.time()

    def as_json(self) -> bytes:
        body = json.dumps({"counts": self.by_status, "last_delivered": self.last_delivered})
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body.encode()
        )


class Callback(asyncio.Protocol):
    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    # httptools callbacks
    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        assert self.transport is not None
        url = urlsplit(self.url.decode("latin-1"))
        self.url, body = b"", b"".join(self.body)
        self.body = []
        if url.path == "/stats":
            self.transport.write(self.counts.as_json())
            return
        if url.path.startswith("/kannel"):
            status = parse_qs(url.query).get("type", ["?"])[0]
            self.counts.seen("kannel", status)
        else:
            status = parse_qs(body.decode("latin-1")).get("MessageStatus", ["?"])[0]
            self.counts.seen("smsvia", status)
        self.transport.write(OK)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    counts = Counts()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Callback(counts), "127.0.0.1", args.port, backlog=1024
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
