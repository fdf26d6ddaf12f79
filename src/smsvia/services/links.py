"""Short links at both ends: the codes a message's links get when it is written, and what
`GET /l/{code}` does — a person is counted and redirected (UTM parameters added), a
link-preview fetcher is counted apart and shown the destination's Open Graph tags.

The tags come from the campaign when it sets them, else from the destination page itself,
fetched once through the SSRF guard (channels/fetch.py) and kept per account and URL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.channels.fetch import UrlRefused, fetch_page
from smsvia.domain import links
from smsvia.domain.links import OpenGraph
from smsvia.services.clock import Clock, utcnow
from smsvia.services.outgoing import Outgoing
from smsvia.store import tracking as queries
from smsvia.store.context import Store
from smsvia.store.outbox import MessageRow
from smsvia.store.rows import insert_many
from smsvia.store.tracking_models import ShortLink

log = logging.getLogger(__name__)

PREVIEW_TAGS = ("title", "description", "image")
RETRY_FAILED_PREVIEW = timedelta(hours=1)  # a page that could not be read is tried again


async def new_codes(session: AsyncSession, wanted: Sequence[int]) -> list[tuple[str, ...]]:
    """For each message, as many fresh codes as it has links; none already in use."""
    codes = [tuple(links.new_code() for _ in range(n)) for n in wanted]
    while True:
        flat = [code for group in codes for code in group]
        clash = await queries.codes_taken(session, flat)
        seen: set[str] = set()
        for code in flat:
            if code in seen:
                clash.add(code)
            seen.add(code)
        if not clash:
            return codes
        codes = [
            tuple(links.new_code() if code in clash else code for code in group) for group in codes
        ]


def filled(store: Store, outgoing: Outgoing, codes: Sequence[str]) -> tuple[str, bytes | None]:
    """The body and the sealed rich content with the message's own codes in them."""
    body = links.fill(outgoing.body, codes) if codes else outgoing.body
    rich = outgoing.rich_content
    if rich is None:
        return body, None
    text = links.fill(json.dumps(rich), codes) if codes else json.dumps(rich)
    return body, store.cipher.seal(text, "message.rich_content")


async def keep_links(
    session: AsyncSession,
    store: Store,
    messages: Sequence[MessageRow],
    outgoing: Sequence[Outgoing],
    codes: Sequence[Sequence[str]],
) -> None:
    """One short_links row per message and link."""
    rows: list[dict[str, Any]] = []
    indexes: dict[str, str] = {}  # a campaign's recipients mostly share their links
    for message, out, own in zip(messages, outgoing, codes, strict=True):
        for position, (url, code) in enumerate(zip(out.links, own, strict=True)):
            if url not in indexes:
                indexes[url] = store.cipher.blind_index(url, "link.url")
            rows.append(
                {
                    "code": code,
                    "account_id": message.account_id,
                    "message_id": message.id,
                    "position": position,
                    "url": store.cipher.seal(url, "link.url"),
                    "url_index": indexes[url],
                }
            )
    await insert_many(session, ShortLink.__table__, rows)


@dataclass(frozen=True)
class Visit:
    """What `GET /l/{code}` answers: a redirect, or the preview page's tags."""

    redirect: str | None
    preview: OpenGraph | None = None
    destination: str = ""


async def follow(
    store: Store,
    code: str,
    *,
    method: str,
    user_agent: str,
    allow_private_urls: bool = False,
    clock: Clock = utcnow,
) -> Visit | None:
    """Count the visit and say where it goes; None for a code nobody was sent."""
    if len(code) != links.CODE_LENGTH or not code.isalnum():
        return None
    now = clock()
    async with store.db.transaction() as session:
        link = await queries.link_by_code(session, code)
        if link is None:
            return None
        preview = links.is_preview_fetcher(method, user_agent)
        await queries.record_visit(
            session, link, kind="preview" if preview else "click", user_agent=user_agent, at=now
        )
        if not preview:
            await queries.clicked(session, link, now)
    url = store.cipher.open(link.url, "link.url")
    if not preview:
        return Visit(links.with_utm(url, link.channel, link.campaign_name), destination=url)
    if link.campaign_preview:
        tags = OpenGraph(**{k: link.campaign_preview.get(k) for k in PREVIEW_TAGS})
    else:
        tags = await destination_tags(
            store,
            link.account_id,
            url,
            link.url_index,
            allow_private_urls=allow_private_urls,
            now=now,
        )
    return Visit(None, tags, destination=url)


async def destination_tags(
    store: Store,
    account_id: int,
    url: str,
    url_index: str,
    *,
    allow_private_urls: bool,
    now: datetime,
) -> OpenGraph:
    """The page's Open Graph tags: kept from an earlier fetch, else fetched now (once)."""
    async with store.db.sessions() as session:
        kept = await queries.preview_of(session, account_id, url_index)
    if kept is not None and (kept.error is None or now - kept.fetched_at < RETRY_FAILED_PREVIEW):
        return OpenGraph(kept.title, kept.description, kept.image)
    error = None
    try:
        page = await fetch_page(url, allow_private=allow_private_urls)
        tags = links.open_graph(page.text, page.url) if "html" in page.content_type else OpenGraph()
    except UrlRefused as exc:
        log.info("no link preview for a link of account %d: %s", account_id, exc.message)
        tags, error = OpenGraph(), exc.message
    async with store.db.transaction() as session:
        if kept is not None:
            await queries.forget_preview(session, account_id, url_index)
        await queries.keep_preview(
            session,
            {
                "account_id": account_id,
                "url_index": url_index,
                "title": tags.title,
                "description": tags.description,
                "image": tags.image,
                "error": error,
                "fetched_at": now,
            },
        )
    return tags
