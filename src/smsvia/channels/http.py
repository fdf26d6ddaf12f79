"""HTTP towards a platform (RBM, an MMSC): keep-alive connections, requests bounded.

aiohttp underneath, as for the status callbacks: httpx spent 2-3 ms of CPU on a request
against a local server (its pool does work per queued request for every connection),
aiohttp about 65 µs. The channels see `Answer`, `Unreached` and `Unanswered`, never the
client library, and the split between the two errors is the one that matters to them:
a request that never left can be tried again; one that left without an answer may have
been taken.
"""

from __future__ import annotations

import asyncio
import base64
import json as jsonlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from smsvia import __version__

# The longest answer taken, in bytes: a platform's answers are a few hundred (RBM's JSON,
# an MM7 SOAP envelope); a longer one, or one that never ends, is garbage, and is not
# kept in memory while it goes on.
ANSWER_LIMIT = 1 << 20


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Unreached(Exception):
    """No connection was made (refused, unresolvable, timed out connecting): the request
    never left."""


class Unanswered(Exception):
    """The request may have left, and no whole answer came back (timeout, connection
    lost, garbage)."""


class HttpPool:
    """Requests to one platform, `concurrency` at a time, each phase (connecting, each
    read) given `timeout` seconds, as httpx did."""

    def __init__(
        self,
        *,
        concurrency: int,
        timeout: float,
        login: tuple[str, str] | None = None,
    ) -> None:
        self._concurrency = concurrency
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout, sock_connect=timeout, sock_read=timeout
        )
        self._headers = {"User-Agent": f"smsvia/{__version__}"}
        if login is not None:  # RFC 7617, UTF-8
            token = base64.b64encode(":".join(login).encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"
        # A request waits here, not in the pool, so its timeout starts when it goes.
        self._slots = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        async with self._slots:
            try:
                async with self._client().request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=content,
                    headers=headers,
                    allow_redirects=False,
                ) as response:
                    body = await _body(response)
                    return Answer(response.status, response.headers.get("content-type", ""), body)
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                raise Unreached(_describe(exc)) from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise Unanswered(_describe(exc)) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # made in the running loop, as aiohttp wants
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._concurrency),
                timeout=self._timeout,
                headers=self._headers,
            )
        return self._session


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"ConnectError: cannot connect to {exc.host}:{exc.port} ({exc.os_error})"
    if isinstance(exc, TimeoutError):  # aiohttp's own timeouts are TimeoutErrors too
        return f"{type(exc).__name__}: no answer in time"
    return f"{type(exc).__name__} {exc}".strip()


async def read_at_most(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """The first `limit` bytes of an answer's body, and whether that was all of it. A longer
    body is left unread past them, so its connection is closed rather than kept."""
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > limit:
            return bytes(body[:limit]), False
    return bytes(body), True


async def _body(response: aiohttp.ClientResponse) -> bytes:
    """The whole answer, if it is no longer than ANSWER_LIMIT (else Unanswered)."""
    body, whole = await read_at_most(response, ANSWER_LIMIT)
    if not whole:
        raise Unanswered(
            f"HTTP {response.status} with an answer longer than {ANSWER_LIMIT:,} bytes"
        )
    return body
