"""Deliver status callbacks: signed as Twilio signs them, retried with exponential backoff.

Callbacks run in their own loop with their own concurrency limit, so a slow receiver delays
only its own callbacks, never sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from smsvia import __version__, metrics
from smsvia.domain.signature import twilio_signature
from smsvia.services.clock import Clock, utcnow
from smsvia.store import accounts as account_queries
from smsvia.store import webhooks as queries
from smsvia.store.context import Store
from smsvia.store.models import WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookConfig:
    concurrency: int = 20
    batch_size: int = 100
    timeout: float = 10.0
    max_attempts: int = 10
    backoff_initial: float = 5.0
    backoff_max: float = 3600.0
    lease_seconds: float = 60.0
    poll_interval: float = 0.5


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
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.store = store
        self.owner = owner
        self.config = config or WebhookConfig()
        self.clock = clock
        self._client = client or httpx.AsyncClient(
            timeout=self.config.timeout,
            headers={"User-Agent": f"smsvia/{__version__} (TwilioProxy-compatible)"},
            follow_redirects=False,
        )
        self._slots = asyncio.Semaphore(self.config.concurrency)
        self._tokens: dict[int, str] = {}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                sent = await self.run_once()
            except Exception:
                log.exception("callback batch failed; retrying")
                sent = 0
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.poll_interval)

    async def run_once(self) -> int:
        now = self.clock()
        async with self.store.db.transaction() as session:
            deliveries = await queries.claim_due_deliveries(
                session,
                owner=self.owner,
                now=now,
                lease_until=now + timedelta(seconds=self.config.lease_seconds),
                limit=self.config.batch_size,
            )
            requests = [(d, await self._signed(session, d)) for d in deliveries]
        if not requests:
            return 0
        outcomes = await asyncio.gather(*(self._post(d, r) for d, r in requests))
        await self._record(outcomes)
        return len(outcomes)

    async def close(self) -> None:
        await self._client.aclose()

    async def _signed(self, session, delivery: WebhookDelivery) -> tuple[dict[str, str], str]:
        params = json.loads(self.store.cipher.open(delivery.payload, "webhook.payload"))
        token = self._tokens.get(delivery.account_id)
        if token is None:
            account = await account_queries.account_by_id(session, delivery.account_id)
            assert account is not None
            token = self.store.cipher.open(account.auth_token, f"account:{account.sid}")
            self._tokens[delivery.account_id] = token
        return params, twilio_signature(delivery.url, params, token)

    async def _post(
        self, delivery: WebhookDelivery, request: tuple[dict[str, str], str]
    ) -> _Outcome:
        params, signature = request
        async with self._slots:
            started = time.perf_counter()
            at = self.clock()
            try:
                response = await self._client.post(
                    delivery.url, data=params, headers={"X-Twilio-Signature": signature}
                )
                status, error = response.status_code, None
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except httpx.HTTPError as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"[:500]
            duration = int((time.perf_counter() - started) * 1000)
        metrics.WEBHOOK_ATTEMPTS.labels("ok" if error is None else "error").inc()
        return _Outcome(delivery.id, at, status, error, duration)

    async def _record(self, outcomes: list[_Outcome]) -> None:
        now = self.clock()
        async with self.store.db.transaction() as session:
            for outcome in outcomes:
                delivery = await session.get(WebhookDelivery, outcome.delivery_id)
                if delivery is None:
                    continue
                session.add(
                    WebhookAttempt(
                        delivery_id=delivery.id,
                        at=outcome.at,
                        response_status=outcome.status,
                        error=outcome.error,
                        duration_ms=outcome.duration_ms,
                    )
                )
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
