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
from smsvia.domain.campaigns import LINK_PREVIEW
from smsvia.domain.links import OpenGraph
from smsvia.services.clock import Clock, utcnow
from smsvia.services.group_commit import GroupCommit
from smsvia.services.outgoing import Outgoing
from smsvia.store import contacts as contact_queries
from smsvia.store import tracking as queries
from smsvia.store.context import Store
from smsvia.store.outbox import MessageRow
from smsvia.store.rows import insert_many
from smsvia.store.tracking_models import ShortLink

log = logging.getLogger(__name__)

RETRY_FAILED_PREVIEW = timedelta(hours=1)  # a page that could not be read is tried again


async def new_codes(session: AsyncSession, wanted: Sequence[int]) -> list[tuple[str, ...]]:
    """For each message, as many fresh codes as it has links; none already in use."""
    fresh = iter(links.new_codes(sum(wanted)))
    codes = [tuple(next(fresh) for _ in range(n)) for n in wanted]
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


@dataclass(frozen=True, slots=True)
class _Tap:
    code: str
    kind: str  # click | preview
    user_agent: str
    at: datetime


class Visits:
    """Records taps on short links. Concurrent taps share one transaction (group commit,
    services/group_commit.py) that looks their codes up, records the clicks and moves the
    contacts' last click: a redirect waits for the commit that holds its click, so every
    answered tap is counted, and a busy campaign's taps cost one connection and one commit
    a batch instead of one each."""

    def __init__(self, store: Store, *, max_batch: int = 256) -> None:
        self._store = store
        self._group: GroupCommit[_Tap, queries.LinkTarget | None] = GroupCommit(
            self._write, max_batch=max_batch
        )

    async def record(
        self, code: str, kind: str, user_agent: str, at: datetime
    ) -> queries.LinkTarget | None:
        """The link the code names, its visit recorded; None for a code nobody was sent."""
        return await self._group.submit(_Tap(code, kind, user_agent, at))

    async def _write(self, batch: Sequence[_Tap]) -> list[queries.LinkTarget | None]:
        async with self._store.db.transaction() as session:
            found = await queries.links_by_code(session, {tap.code for tap in batch})
            known = [(tap, found[tap.code]) for tap in batch if tap.code in found]
            await queries.record_visits(
                session,
                [
                    {
                        "account_id": link.account_id,
                        "link_id": link.id,
                        "message_id": link.message_id,
                        "campaign_sid": link.campaign_sid,
                        "contact_id": link.contact_id,
                        "phone_index": link.phone_index,
                        "kind": tap.kind,
                        "user_agent": tap.user_agent[:300],
                        "at": tap.at,
                    }
                    for tap, link in known
                ],
            )
            clicks = [(tap, link) for tap, link in known if tap.kind == "click"]
            if clicks:
                contacts = await _clicked_contacts(
                    session, self._store, [link for _, link in clicks]
                )
                moment = max(tap.at for tap, _ in clicks)
                await contact_queries.moved_forward(session, contacts, "last_clicked_at", moment)
        return [found.get(tap.code) for tap in batch]


async def _clicked_contacts(
    session: AsyncSession, store: Store, clicked: Sequence[queries.LinkTarget]
) -> set[int]:
    """The contacts the clicked messages went to: the one a campaign texted, or for an API
    message the account's contact with that number."""
    found = {link.contact_id for link in clicked if link.contact_id is not None}
    by_account: dict[int, set[str]] = {}
    for link in clicked:
        if link.contact_id is None:
            to = store.cipher.open(link.recipient, "message.to")
            by_account.setdefault(link.account_id, set()).add(to)
    for account_id, numbers in by_account.items():
        indexes = store.cipher.indexes(numbers, "phone").all
        found.update(await contact_queries.ids_by_phone_index(session, account_id, indexes))
    return found


async def follow(
    store: Store,
    code: str,
    *,
    method: str,
    user_agent: str,
    visits: Visits | None = None,
    allow_private_urls: bool = False,
    clock: Clock = utcnow,
) -> Visit | None:
    """Count the visit and say where it goes; None for a code nobody was sent."""
    if len(code) != links.CODE_LENGTH or not code.isalnum():
        return None
    now = clock()
    preview = links.is_preview_fetcher(method, user_agent)
    kind = "preview" if preview else "click"
    link = await (visits or Visits(store, max_batch=1)).record(code, kind, user_agent, now)
    if link is None:
        return None
    url = store.cipher.open(link.url, "link.url")
    if not preview:
        return Visit(links.with_utm(url, link.channel, link.campaign_name), destination=url)
    if link.campaign_preview:
        tags = OpenGraph(**{k: link.campaign_preview.get(k) for k in LINK_PREVIEW})
    else:
        tags = await destination_tags(
            store,
            link.account_id,
            url,
            allow_private_urls=allow_private_urls,
            now=now,
        )
    return Visit(None, tags, destination=url)


async def destination_tags(
    store: Store,
    account_id: int,
    url: str,
    *,
    allow_private_urls: bool,
    now: datetime,
) -> OpenGraph:
    """The page's Open Graph tags: kept from an earlier fetch, else fetched now (once)."""
    ring = store.cipher.indexes([url], "link.url")
    async with store.db.sessions() as session:
        kept = await queries.preview_of(session, account_id, ring.all)
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
            await queries.forget_preview(session, account_id, ring.all)
        await queries.keep_preview(
            session,
            {
                "account_id": account_id,
                "url_index": ring.of(url),
                "title": tags.title,
                "description": tags.description,
                "image": tags.image,
                "error": error,
                "fetched_at": now,
            },
        )
    return tags
