"""One status callback's request: signed as Twilio signs it, redirected as Twilio follows
redirects, and judged by its answer's status alone.

A receiver may answer 301, 302, 307 or 308 (an endpoint moved to https, a load balancer in
front of it): the same form is posted again to the Location, signed for that URL, the one
its receiver checks the signature against. A 303 asks for a GET of the Location (the form
was taken; the answer is elsewhere), as RFC 9110 has it. At most MAX_REDIRECTS hops, each
through the SSRF guard (its IP literal here, its name in the client's resolver).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

import aiohttp

from smsvia.channels.fetch import REDIRECTS, UrlRefused, refuse_private_literal
from smsvia.channels.http import read_at_most
from smsvia.domain.signature import twilio_signature
from smsvia.domain.twilio_format import form_encoded

MAX_REDIRECTS = 5

# Of a receiver's answer only the status counts. Its body is read to the end when it is no
# longer than this, so the connection serves the next post; a longer one (or one that never
# ends) is left unread and its connection closed.
ANSWER_READ_LIMIT = 64 * 1024

_FORM = "application/x-www-form-urlencoded"


class _Unfollowable(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


async def post_callback(
    client: aiohttp.ClientSession,
    url: str,
    params: Mapping[str, str],
    auth_token: str,
    *,
    allow_private: bool,
) -> tuple[int | None, str | None]:
    """The last answer's status (None if none came), and what went wrong (None for 2xx)."""
    try:
        status = await _follow(client, url, params, auth_token, allow_private)
    except _Unfollowable as exc:
        return exc.status, str(exc)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return None, _failure(exc)[:500]
    except UrlRefused as exc:
        return None, f"Refused: {exc.message}"
    return status, None if 200 <= status < 300 else f"HTTP {status}"


async def _follow(
    client: aiohttp.ClientSession,
    url: str,
    params: Mapping[str, str],
    auth_token: str,
    allow_private: bool,
) -> int:
    method, form = "POST", params
    for _ in range(MAX_REDIRECTS + 1):
        if not allow_private:
            refuse_private_literal(url)
        headers = {"X-Twilio-Signature": twilio_signature(url, form, auth_token)}
        if method == "POST":
            headers["Content-Type"] = _FORM
        async with client.request(
            method,
            url,
            # Encoded here: aiohttp's FormData machinery cost more than the post.
            data=form_encoded(form) if method == "POST" else None,
            headers=headers,
            allow_redirects=False,
        ) as response:
            await read_at_most(response, ANSWER_READ_LIMIT)
            status, location = response.status, response.headers.get("Location")
        if status not in REDIRECTS:
            return status
        if not location:
            raise _Unfollowable(status, f"HTTP {status} without a Location")
        url = urljoin(url, location)
        if urlsplit(url).scheme not in ("http", "https"):
            raise _Unfollowable(status, f"HTTP {status} to {url[:200]!r}, not an http(s) URL")
        if status == 303:
            method, form = "GET", {}
    raise _Unfollowable(status, f"HTTP {status}: more than {MAX_REDIRECTS} redirects")


def _failure(exc: BaseException) -> str:
    """What went wrong, in words that do not depend on the HTTP client underneath."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"ConnectError: cannot connect to {exc.host}:{exc.port} ({exc.os_error})"
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return "Timeout: no answer in time"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return f"ReadError: the connection closed before the answer ({exc})"
    if isinstance(exc, aiohttp.InvalidURL | ValueError):
        return f"InvalidURL: {exc}"
    return f"{type(exc).__name__}: {exc}"
