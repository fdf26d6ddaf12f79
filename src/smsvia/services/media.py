"""An MMS's media, ready to send: fetched once through the SSRF guard, checked, re-encoded
to the connector's limit (domain/media.py), kept under the data directory.

A campaign sends one picture to many recipients, so what a set of URLs became is kept for
`ttl` seconds (a refusal too, for less), and concurrent messages with the same media wait
for one fetch rather than each making its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smsvia.channels.fetch import UrlRefused, fetch_media
from smsvia.domain import ids
from smsvia.domain.media import FETCH_FAILED, MAX_FETCH, MediaRefused, Medium, fit
from smsvia.store.context import Store


@dataclass(frozen=True, slots=True)
class Prepared:
    """Media as they go out, each with the SHA-256 its file is kept under."""

    media: tuple[Medium, ...]
    digests: tuple[str, ...]

    def rows(self, account_id: int, message_id: int, now: datetime) -> list[dict[str, Any]]:
        """The Media subresource's rows for the message that carried them."""
        return [
            {
                "sid": ids.new_sid(ids.MEDIA),
                "account_id": account_id,
                "message_id": message_id,
                "position": position,
                "content_type": medium.content_type,
                "size": medium.size,
                "sha256": digest,
                "source_url": medium.source_url,
                "date_created": now,
            }
            for position, (medium, digest) in enumerate(zip(self.media, self.digests, strict=True))
        ]


class MediaPipeline:
    def __init__(
        self,
        store: Store,
        *,
        allow_private: bool = False,
        timeout: float = 10.0,
        ttl: float = 600.0,
        refusal_ttl: float = 60.0,
        entries: int = 32,
    ) -> None:
        self.store = store
        self.allow_private = allow_private
        self.timeout = timeout
        self.ttl = ttl
        self.refusal_ttl = refusal_ttl
        self.entries = entries
        self._ready: dict[tuple[tuple[str, ...], int], tuple[float, asyncio.Task[Prepared]]] = {}

    async def prepare(self, urls: Sequence[str], limit: int) -> Prepared:
        """The media behind `urls`, fitted within `limit` bytes and kept; MediaRefused
        (with its code) when one cannot be fetched, is of a type MMS does not carry, or
        cannot be made to fit."""
        key = (tuple(urls), limit)
        now = time.monotonic()
        held = self._ready.get(key)
        if held is None or held[0] < now:
            self._forget_expired(now)
            task = asyncio.create_task(self._prepare(key[0], limit))
            self._ready[key] = (now + self.ttl, task)
            task.add_done_callback(lambda done: self._on_done(key, done))
            held = self._ready[key]
        return await asyncio.shield(held[1])

    async def _prepare(self, urls: tuple[str, ...], limit: int) -> Prepared:
        fetched = await asyncio.gather(*(self._fetch(url) for url in urls))
        fitted = await asyncio.to_thread(fit, list(fetched), limit)
        digests = await asyncio.to_thread(lambda: [self.store.media.save(m.data) for m in fitted])
        return Prepared(tuple(fitted), tuple(digests))

    async def _fetch(self, url: str) -> Medium:
        try:
            got = await fetch_media(
                url, allow_private=self.allow_private, timeout=self.timeout, max_bytes=MAX_FETCH
            )
        except UrlRefused as exc:
            raise MediaRefused(exc.message, code=FETCH_FAILED) from exc
        return Medium(got.content_type, got.data, url)

    def _on_done(self, key: tuple[tuple[str, ...], int], task: asyncio.Task[Prepared]) -> None:
        if not task.cancelled() and task.exception() is not None:
            held = self._ready.get(key)
            if held is not None and held[1] is task:
                self._ready[key] = (time.monotonic() + self.refusal_ttl, task)

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, (expires, _) in self._ready.items() if expires < now]:
            del self._ready[key]
        while len(self._ready) >= self.entries:
            del self._ready[next(iter(self._ready))]
