"""Deliver status callbacks: signed as Twilio signs them, retried with exponential backoff.

Callbacks run in their own loops with their own concurrency limit, so a slow receiver delays
only callbacks, never sending. Batches are claimed and recorded as Core rows, a handful of
statements each, and two are in flight at once: one posting while another is recorded.
Posts go out on aiohttp (keep-alive connections reused per receiver): at two callbacks a
message, the HTTP client's own cost per request is a large share of the whole path's. One
post, its signature and the redirects it follows are webhooks/posting.py's.

A callback queued in this process is handed over from memory as its transaction commits
(the dispatcher is the Tracker's courier, services/delivery.py): its row is born claimed by
this dispatcher, so it is posted at once with no claim and no unsealing. If the process dies
first, the claim ends with it (dispatch/runner.py takes over the claims of the dead) or at
the end of its lease, and the callback is claimed from the table like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp

from smsvia import __version__, metrics
from smsvia.channels.fetch import GuardedResolver
from smsvia.services.clock import Clock, utcnow
from smsvia.store import accounts as account_queries
from smsvia.store import webhooks as queries
from smsvia.store.context import Store
from smsvia.store.rows import save
from smsvia.store.webhooks import DeliveryRow
from smsvia.webhooks.posting import post_callback

log = logging.getLogger(__name__)

# How long a lane of handed-over callbacks waits for one before it looks at `stop` again.
_HANDED_WAIT = 0.25

# A callback to post, with its form parameters (in the clear, as they are signed).
Handed = tuple[DeliveryRow, Mapping[str, str]]


@dataclass(frozen=True)
class WebhookConfig:
    concurrency: int = 100  # posts in flight at once, all receivers together
    batch_size: int = 200
    lanes: int = 2
    timeout: float = 10.0
    max_attempts: int = 10
    backoff_initial: float = 5.0
    backoff_max: float = 3600.0
    lease_seconds: float = 60.0
    poll_interval: float = 0.5
    # Callbacks to private, loopback and link-local addresses (SMSVIA_ALLOW_PRIVATE_URLS).
    allow_private: bool = False
    # Handed-over callbacks waiting in memory, at most; beyond, they are queued unclaimed.
    hand_off_limit: int = 5_000
    # A kept-alive connection idle this long is closed rather than used again: before the
    # 5 s after which uvicorn, Node.js and Apache close theirs. Used just as the receiver
    # closes it, a post would fail (aiohttp#2682) and wait `backoff_initial` for its retry.
    idle_timeout: float = 4.0


@dataclass(frozen=True)
class _Outcome:
    delivery_id: int
    at: datetime
    status: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookDispatcher:
    def __init__(
        self,
        store: Store,
        *,
        owner: str,
        config: WebhookConfig | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.owner = owner
        self.config = config or WebhookConfig()
        self.clock = clock
        self._http: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(self.config.concurrency)
        # Auth tokens by account, and the credentials' generation they were read under.
        self._tokens: dict[int, str] = {}
        self._tokens_read_at: tuple[int, str] | None = None
        self._handed: asyncio.Queue[Handed] = asyncio.Queue()
        self._accepting = False

    async def run(self, stop: asyncio.Event) -> None:
        self._accepting = True
        try:
            await asyncio.gather(
                *(self._lane(stop) for _ in range(self.config.lanes)),
                *(self._handed_lane(stop) for _ in range(self.config.lanes)),
            )
        finally:
            self._accepting = False

    # -- the courier (services/delivery.py) ----------------------------------------------

    def lease(self, count: int) -> tuple[str, datetime] | None:
        if not self._accepting or self._handed.qsize() + count > self.config.hand_off_limit:
            return None
        return self.owner, self.clock() + timedelta(seconds=self.config.lease_seconds)

    def take(self, handed: Sequence[Handed]) -> None:
        for one in handed:
            self._handed.put_nowait(one)

    async def _lane(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                sent = await self.run_once()
            except Exception:
                log.exception("callback batch failed; retrying")
                sent = 0
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.poll_interval)

    async def _handed_lane(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                first = await asyncio.wait_for(self._handed.get(), _HANDED_WAIT)
            except TimeoutError:
                continue
            batch = [first]
            while len(batch) < self.config.batch_size and not self._handed.empty():
                batch.append(self._handed.get_nowait())
            try:
                await self.post_handed(batch)
            except Exception:
                log.exception("handed-over callbacks failed; claimed again when their lease ends")

    async def run_once(self) -> int:
        """Claim the callbacks due, post them, record what each answered; returns how many."""
        now = self.clock()
        async with self.store.db.transaction() as session:
            deliveries = await queries.claim_due_deliveries(
                session,
                owner=self.owner,
                now=now,
                lease_until=now + timedelta(seconds=self.config.lease_seconds),
                limit=self.config.batch_size,
            )
            handed = [
                (d, json.loads(self.store.cipher.open(d.payload, "webhook.payload")))
                for d in deliveries
            ]
        return await self._post_all(handed)

    async def post_handed(self, handed: Sequence[Handed]) -> int:
        """Post callbacks handed over from memory; returns how many were posted."""
        # One that waited here so long its lease may end before its answer is anybody's
        # again: the claim path takes it, and it is not posted twice.
        fresh = self.clock() + timedelta(seconds=self.config.timeout)
        return await self._post_all([one for one in handed if one[0].lease_expires_at > fresh])

    async def _post_all(self, handed: Sequence[Handed]) -> int:
        if not handed:
            return 0
        tokens = await self._tokens_for({d.account_id for d, _ in handed})
        outcomes = await asyncio.gather(
            *(self._post(d, params, tokens[d.account_id]) for d, params in handed)
        )
        await self._record([d for d, _ in handed], outcomes)
        return len(outcomes)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:  # made in the running loop, as aiohttp wants
            # The SSRF guard where it cannot be fooled: on the addresses connected to.
            resolver = None if self.config.allow_private else GuardedResolver()
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.config.concurrency,
                    resolver=resolver,
                    keepalive_timeout=self.config.idle_timeout,
                ),
                timeout=aiohttp.ClientTimeout(total=self.config.timeout),
                headers={"User-Agent": f"smsvia/{__version__} (TwilioProxy-compatible)"},
            )
        return self._http

    async def _tokens_for(self, account_ids: set[int]) -> Mapping[int, str]:
        """The auth tokens callbacks are signed with, as they are now: a token rotated in
        another process signs the next batch. Kept between batches only where a change is
        seen at once (store/credential_watch.py); read for each batch otherwise.

        A batch signs with the mapping it was given: another lane starting over with a
        fresh one meanwhile (on PostgreSQL, every batch) cannot take a token from it."""
        watch = self.store.credentials
        generation = watch.generation
        if not watch.trusted or generation != self._tokens_read_at:
            self._tokens, self._tokens_read_at = {}, generation
        tokens = self._tokens
        missing = account_ids - tokens.keys()
        if missing:
            async with self.store.db.transaction() as session:
                for account_id in missing:
                    sealed = await account_queries.sealed_token(session, account_id)
                    assert sealed is not None
                    tokens[account_id] = self.store.cipher.open(
                        sealed.auth_token, f"account:{sealed.sid}"
                    )
        return tokens

    async def _post(
        self, delivery: DeliveryRow, params: Mapping[str, str], auth_token: str
    ) -> _Outcome:
        async with self._slots:
            started = time.perf_counter()
            at = self.clock()
            status, error = await post_callback(
                self._client(),
                delivery.url,
                params,
                auth_token,
                allow_private=self.config.allow_private,
            )
            duration = int((time.perf_counter() - started) * 1000)
        metrics.WEBHOOK_ATTEMPTS.labels("ok" if error is None else "error").inc()
        return _Outcome(delivery.id, at, status, error, duration)

    async def _record(self, deliveries: list[DeliveryRow], outcomes: list[_Outcome]) -> None:
        """Every attempt, and what follows for each callback: done, given up, or retried."""
        now = self.clock()
        for delivery, outcome in zip(deliveries, outcomes, strict=True):
            delivery.attempts += 1
            delivery.lease_owner = delivery.lease_expires_at = None
            if outcome.ok:
                delivery.status, delivery.due_at = "succeeded", None
            elif delivery.attempts >= self.config.max_attempts:
                delivery.status, delivery.due_at = "failed", None
                metrics.WEBHOOK_FAILURES.inc()
                log.warning("callback to %s abandoned: %s", delivery.url, outcome.error)
            else:
                delay = min(
                    self.config.backoff_initial * 2 ** (delivery.attempts - 1),
                    self.config.backoff_max,
                )
                delivery.due_at = now + timedelta(seconds=delay)
        async with self.store.db.transaction() as session:
            # A callback whose message was deleted meanwhile went with it.
            kept = await queries.existing_deliveries(session, [d.id for d in deliveries])
            await queries.record_attempts(
                session,
                [
                    {
                        "delivery_id": outcome.delivery_id,
                        "at": outcome.at,
                        "response_status": outcome.status,
                        "error": outcome.error,
                        "duration_ms": outcome.duration_ms,
                    }
                    for outcome in outcomes
                    if outcome.delivery_id in kept
                ],
            )
            await save(session, [d for d in deliveries if d.id in kept])
