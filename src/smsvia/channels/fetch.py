"""Outbound HTTP to addresses customers and shops give us, with the SSRF guard: a URL whose
host resolves to a private, loopback, link-local (cloud metadata), multicast or otherwise
non-public address is refused, at every redirect hop. `allow_private` (the setting
SMSVIA_ALLOW_PRIVATE_URLS) lets the demo and tests reach 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from smsvia.channels.http import read_at_most
from smsvia.domain.errors import DomainError

MAX_REDIRECTS = 3
# The answers that send a client on to their Location.
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class UrlRefused(DomainError):
    """A URL the guard will not fetch (or a fetch that failed), with the reason."""


async def check_url(url: str, *, allow_private: bool = False, unresolved_ok: bool = False) -> None:
    """Raise UrlRefused unless `url` is http(s) and its host resolves only to public
    addresses. With `unresolved_ok`, a host that does not resolve (yet) passes: checked
    ahead of a later fetch, which checks again."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused(f"{url!r} is not an http(s) URL")
    if allow_private:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UrlRefused(f"{url!r} has a bad port") from exc
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        if unresolved_ok:
            return
        raise UrlRefused(f"{parts.hostname} does not resolve") from exc
    for *_, address in found:
        if not is_public(address[0]):
            raise UrlRefused(f"{parts.hostname} resolves to a non-public address ({address[0]})")


def is_public(address: str) -> bool:
    """Whether an IP address is one the internet routes to (not private, loopback,
    link-local as cloud metadata is, reserved or multicast)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver with the guard at connect time: only public addresses are handed
    to the connection, so a name that resolved to a public address when it was checked and
    to 127.0.0.1 now (DNS rebinding) still cannot reach it."""

    def __init__(self) -> None:
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        public = [entry for entry in found if is_public(entry["host"])]
        if not public:
            raise OSError(f"{host} resolves to no public address; refused")
        return public

    async def close(self) -> None:
        await self._inner.close()


def refuse_private_literal(url: str) -> None:
    """UrlRefused for a URL whose host is a non-public IP literal (resolvers never see
    those, so GuardedResolver cannot)."""
    host = urlsplit(url).hostname or ""
    try:
        public = is_public(host)
    except ValueError:
        return  # a name: the resolver checks it
    if not public:
        raise UrlRefused(f"{host} is a non-public address")


@dataclass(frozen=True)
class Page:
    url: str  # after redirects
    content_type: str
    text: str


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    content_type: str
    data: bytes


async def fetch_page(
    url: str,
    *,
    allow_private: bool = False,
    timeout: float = 5.0,
    max_bytes: int = 512 * 1024,
) -> Page:
    """GET a page (the first `max_bytes` of it), following redirects through the guard."""
    got, _ = await _get(url, allow_private, timeout, max_bytes, "smsvia-preview/1")
    try:
        text = got.data.decode(_charset(got.content_type) or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        text = got.data.decode("utf-8", "replace")
    return Page(got.url, got.content_type, text)


async def fetch_media(
    url: str,
    *,
    allow_private: bool = False,
    timeout: float = 10.0,
    max_bytes: int = 5 * 1024 * 1024,
) -> Fetched:
    """GET a picture or video whole, through the guard; UrlRefused if over `max_bytes`."""
    got, complete = await _get(url, allow_private, timeout, max_bytes, "smsvia-media/1")
    if not complete:
        raise UrlRefused(f"{url} is larger than {max_bytes:,} bytes")
    return got


async def _get(
    url: str, allow_private: bool, timeout: float, max_bytes: int, agent: str
) -> tuple[Fetched, bool]:
    """The first `max_bytes` of `url` after redirects, and whether that was all of it.

    Each hop's URL is checked, and the connection itself only ever reaches the public
    addresses the guarded resolver hands it (a name that re-resolves to 127.0.0.1 between
    the check and the connection gets nowhere)."""
    resolver = None if allow_private else GuardedResolver()
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=resolver),
        timeout=aiohttp.ClientTimeout(total=timeout),
        headers={"User-Agent": agent},
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            await check_url(url, allow_private=allow_private)
            try:
                async with client.get(url, allow_redirects=False) as response:
                    if response.status in REDIRECTS and response.headers.get("location"):
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status != 200:
                        raise UrlRefused(f"{url} answered {response.status}")
                    data, complete = await read_at_most(response, max_bytes)
                    content_type = response.headers.get("content-type", "")
                    return Fetched(str(response.url), content_type, data), complete
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise UrlRefused(f"{url} could not be fetched: {type(exc).__name__}") from exc
    raise UrlRefused(f"{url} redirects more than {MAX_REDIRECTS} times")


def _charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"')
    return None
