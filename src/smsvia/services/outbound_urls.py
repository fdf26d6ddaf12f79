"""The SSRF guard at the API: URLs a request asks us to reach later (its StatusCallback, its
media) refused now when they point at private, loopback or link-local addresses. The
connection checks again when it is made (channels/fetch.GuardedResolver)."""

from __future__ import annotations

from collections.abc import Sequence

from smsvia.channels.fetch import UrlRefused, check_url
from smsvia.domain.errors import InvalidParameter


async def check_callback_url(url: str | None, allow_private: bool) -> None:
    """21609 for a StatusCallback the SSRF guard refuses; checked again as each callback
    connects (webhooks/dispatcher.py), where DNS cannot fool it."""
    await _guarded([url] if url else [], allow_private, 21609, "StatusCallback")


async def check_media_urls(urls: Sequence[str], allow_private: bool) -> None:
    """21620 for a media URL the SSRF guard refuses (a private, loopback or link-local
    address), so the caller hears it now. A host that does not resolve passes: fetching it
    fails the message later (11200), as Twilio's does."""
    await _guarded(urls, allow_private, 21620, "MediaUrl")


async def _guarded(urls: Sequence[str], allow_private: bool, code: int, field: str) -> None:
    for url in urls:
        try:
            await check_url(url, allow_private=allow_private, unresolved_ok=True)
        except UrlRefused as exc:
            raise InvalidParameter(
                f"{field} refused: {exc.message}", code=code, field=field
            ) from exc
