"""The SSRF guard at the door: URLs we are asked to reach later (a StatusCallback, media, a
number's sms_url) refused now when they point at private, loopback or link-local addresses.
The connection checks again when it is made (channels/fetch.GuardedResolver)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from smsvia.channels.fetch import UrlRefused, check_url
from smsvia.domain.errors import InvalidParameter


async def check_callback_url(url: str | None, allow_private: bool) -> None:
    """21609 for a StatusCallback the SSRF guard refuses; checked again as each callback
    connects (webhooks/dispatcher.py), where DNS cannot fool it."""
    await _guarded([url] if url else [], allow_private, 21609, "StatusCallback")


async def check_forward_url(url: str | None, allow_private: bool) -> None:
    """21502 for a number's `sms_url` (where inbound texts are forwarded) the guard refuses;
    each forward checks again as it connects (dispatch/inbound.py)."""
    await _guarded([url] if url else [], allow_private, 21502, "sms_url")


async def check_media_urls(urls: Sequence[str], allow_private: bool) -> None:
    """21620 for a media URL the SSRF guard refuses (a private, loopback or link-local
    address), so the caller hears it now. A host that does not resolve passes: fetching it
    fails the message later (11200), as Twilio's does."""
    await _guarded(urls, allow_private, 21620, "MediaUrl")


async def _guarded(urls: Sequence[str], allow_private: bool, code: int, field: str) -> None:
    for url in urls:
        refused = await _verdict(url, allow_private)
        if refused is not None:
            raise InvalidParameter(f"{field} refused: {refused}", code=code, field=field)


# Each host's verdict, for a minute: a shop sends thousands of messages with the same
# StatusCallback, and resolving its name for each would put a DNS look-up on every send.
# A verdict that went stale is harmless: every connection is checked again as it is made.
VERDICT_SECONDS = 60.0
_verdicts: dict[str, tuple[float, str | None]] = {}


async def _verdict(url: str, allow_private: bool) -> str | None:
    """Why the guard refuses `url`, or None."""
    parts = urlsplit(url)
    if allow_private or parts.scheme not in ("http", "https"):
        return await _check(url, allow_private)
    host = f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"
    now = time.monotonic()
    known = _verdicts.get(host)
    if known is not None and known[0] > now:
        return known[1]
    refused = await _check(url, allow_private)
    if len(_verdicts) >= 10_000:
        _verdicts.clear()
    _verdicts[host] = (now + VERDICT_SECONDS, refused)
    return refused


async def _check(url: str, allow_private: bool) -> str | None:
    try:
        await check_url(url, allow_private=allow_private, unresolved_ok=True)
    except UrlRefused as exc:
        return exc.message
    return None
