"""RCS channel: the RBM REST API (client side) behind our own small interface.

`capable`, `send`, `revoke` and `close`; the rest of the server never sees HTTP. The real
platform wants an OAuth2 token from a Google service account (google-auth); a simulator
wants none. Capability answers are cached for `capability_ttl` seconds; errors are not.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from smsvia.channels.http import Answer, HttpPool, Unanswered, Unreached

log = logging.getLogger(__name__)

RBM_SCOPE = "https://www.googleapis.com/auth/rcsbusinessmessaging"


@dataclass(frozen=True, slots=True)
class RcsConfig:
    base_url: str
    agent_id: str
    credentials_file: str | None = None  # a Google service account key (JSON)
    timeout: float = 10.0  # seconds for one request
    capability_ttl: float = 300.0  # seconds a capability answer is trusted
    concurrency: int = 16  # requests in flight at once


class SendOutcome(StrEnum):
    ACCEPTED = "accepted"  # the platform has it (or had it already: same messageId)
    NOT_CAPABLE = "not_capable"  # 404: the phone cannot take RCS
    FAILED = "failed"  # the platform refused or broke (4xx, 5xx)
    UNANSWERED = "unanswered"  # no answer (timeout, connection lost): it may have it
    UNREACHED = "unreached"  # no connection was made: it never had it


class RevokeOutcome(StrEnum):
    REVOKED = "revoked"  # it will never be delivered
    GONE = "gone"  # 404: already delivered (or expired)
    FAILED = "failed"  # could not tell; try again


@dataclass(frozen=True, slots=True)
class RcsResult:
    outcome: SendOutcome | RevokeOutcome
    detail: str = ""


class RbmChannel:
    def __init__(self, name: str, config: RcsConfig):
        self.name = name
        self.config = config
        self._http = HttpPool(concurrency=config.concurrency, timeout=config.timeout)
        self._capable: dict[str, tuple[float, bool]] = {}
        self._token = _ServiceAccountToken(config.credentials_file)
        self._trouble = _Trouble(name)

    async def capable(self, msisdn: str) -> bool | None:
        """Whether the phone takes RCS; None when the platform could not say."""
        cached = self._capable.get(msisdn)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            answer = await self._request(
                "GET",
                f"/v1/phones/{quote(msisdn)}/capabilities",
                params={"requestId": str(uuid.uuid4()), "agentId": self.config.agent_id},
            )
        except (Unreached, Unanswered) as exc:
            self._trouble.failed(str(exc))
            return None
        if answer.status not in (200, 404):
            self._trouble.failed(f"HTTP {answer.status}")
            return None
        self._trouble.over()
        capable = answer.status == 200
        if len(self._capable) > 100_000:
            self._capable.clear()
        self._capable[msisdn] = (time.monotonic() + self.config.capability_ttl, capable)
        return capable

    async def send(
        self, msisdn: str, message_id: str, content: dict[str, Any], ttl_seconds: int
    ) -> RcsResult:
        """POST the agent message; the messageId makes a repeat harmless (409)."""
        try:
            answer = await self._request(
                "POST",
                f"/v1/phones/{quote(msisdn)}/agentMessages",
                params={"messageId": message_id, "agentId": self.config.agent_id},
                json={"contentMessage": content, "ttl": f"{ttl_seconds}s"},
            )
        except Unreached as exc:
            return RcsResult(SendOutcome.UNREACHED, f"RBM unreachable: {exc}")
        except Unanswered as exc:
            return RcsResult(SendOutcome.UNANSWERED, f"no answer from RBM: {exc}")
        if answer.status in (200, 409):
            return RcsResult(SendOutcome.ACCEPTED)
        if answer.status == 404:
            self._capable[msisdn] = (time.monotonic() + self.config.capability_ttl, False)
            return RcsResult(SendOutcome.NOT_CAPABLE, "RBM: the phone is not RCS-capable")
        return RcsResult(SendOutcome.FAILED, f"RBM answered {_error_text(answer)}")

    async def revoke(self, msisdn: str, message_id: str) -> RcsResult:
        try:
            answer = await self._request(
                "DELETE",
                f"/v1/phones/{quote(msisdn)}/agentMessages/{quote(message_id)}",
                params={"agentId": self.config.agent_id},
            )
        except (Unreached, Unanswered) as exc:
            return RcsResult(RevokeOutcome.FAILED, f"no answer from RBM: {exc}")
        if answer.status == 200:
            return RcsResult(RevokeOutcome.REVOKED)
        if answer.status == 404:
            return RcsResult(RevokeOutcome.GONE, "RBM: already delivered")
        return RcsResult(RevokeOutcome.FAILED, f"RBM answered {_error_text(answer)}")

    async def close(self) -> None:
        await self._http.close()

    async def _request(self, method: str, path: str, **options: Any) -> Answer:
        headers = {}
        token = await self._token.get()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = self.config.base_url.rstrip("/") + path
        return await self._http.request(method, url, headers=headers, **options)


class _Trouble:
    """Failing capability checks, said in the log when they begin, then once a minute with
    how many failed meanwhile, and when they answer again: not once a message, which at a
    campaign's pace would flood the log while RBM is down."""

    EVERY = 60.0  # seconds

    def __init__(self, name: str) -> None:
        self.name = name
        self._said_at: float | None = None  # None: no trouble
        self._unsaid = 0

    def failed(self, why: str) -> None:
        now = time.monotonic()
        if self._said_at is not None and now - self._said_at < self.EVERY:
            self._unsaid += 1
            return
        more = f" ({self._unsaid} more failed in the last minute)" if self._unsaid else ""
        log.warning("RBM capability checks fail on %s: %s%s", self.name, why, more)
        self._said_at, self._unsaid = now, 0

    def over(self) -> None:
        if self._said_at is not None:
            log.info("RBM capability checks on %s answer again", self.name)
            self._said_at, self._unsaid = None, 0


class _ServiceAccountToken:
    """An OAuth2 access token for the RBM scope, refreshed before it expires."""

    def __init__(self, credentials_file: str | None) -> None:
        self._credentials: Any = None
        if credentials_file:
            from google.oauth2 import service_account

            self._credentials = service_account.Credentials.from_service_account_file(
                credentials_file, scopes=[RBM_SCOPE]
            )
        self._lock = asyncio.Lock()

    async def get(self) -> str | None:
        if self._credentials is None:
            return None
        async with self._lock:
            if not self._credentials.valid:
                from google.auth.transport.requests import Request

                # google-auth refreshes synchronously (requests): keep the loop free.
                await asyncio.to_thread(self._credentials.refresh, Request())
            return self._credentials.token


def _error_text(answer: Answer) -> str:
    try:
        message = answer.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = answer.text[:200]
    return f"{answer.status}: {message}".rstrip(": ")
