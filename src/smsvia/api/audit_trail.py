"""Every change made through the API, in the audit log (services/audit.py). (The dashboard
records its few changes itself: its forms answer a redirect whether or not they succeeded.)

A route that changes something says so with `@audited("campaigns.launch")`; whoever
authenticated the request leaves who they are in `request.state` (`act_as`). `AuditTrail`,
an ASGI middleware, then records each such request that succeeded, just before the last
byte of its answer is sent: a client holding the answer can find the entry. It keeps the
names of the fields given, never their values, and the object: the route's `sid` or, for a
creation, the `sid` the answer carries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smsvia.services import audit

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
_ATTRIBUTE = "__smsvia_audit__"
_STATE = "audit_actor"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_KEEP = 64 * 1024  # bytes of a request or answer body read for names and the SID


def audited(action: str) -> Callable[[F], F]:
    """Mark a route as a change, recorded as `action`."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _ATTRIBUTE, action)
        return endpoint

    return mark


def act_as(request: Request, account_id: int, actor: str) -> None:
    """Who the request acts as, for the audit log."""
    request.state.audit_actor = (account_id, actor)


class AuditTrail:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _READS:
            await self.app(scope, receive, send)
            return
        asked = bytearray()
        answered = bytearray()
        status = 0

        async def reading() -> Message:
            message = await receive()
            if _action(scope) and message["type"] == "http.request" and len(asked) < _KEEP:
                asked.extend(message.get("body", b""))
            return message

        async def answering(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and 200 <= status < 300:
                action = _action(scope)
                if action and len(answered) < _KEEP:
                    answered.extend(message.get("body", b""))
                if action and not message.get("more_body", False):
                    await _record(scope, action, bytes(asked), bytes(answered))
            await send(message)

        await self.app(scope, reading, answering)


def _action(scope: Scope) -> str | None:
    return getattr(scope.get("endpoint"), _ATTRIBUTE, None)


async def _record(scope: Scope, action: str, asked: bytes, answered: bytes) -> None:
    who = scope.get("state", {}).get(_STATE)
    if who is None:  # nobody signed in made it: not a change of anyone's (a webhook)
        return
    account_id, actor = who
    params = scope.get("path_params", {})
    client = scope.get("client")
    change = audit.Change(
        actor=actor,
        action=action,
        object=params.get("sid") or _sid_of(answered),
        address=client[0] if client else None,
        given=_names(scope, asked),
    )
    try:
        await audit.record(scope["app"].state.runtime.store, account_id, change)
    except Exception:
        # The change is made and answered; losing its entry is logged, never hidden.
        log.exception("could not record %s by %s in the audit log", action, actor)


def _names(scope: Scope, body: bytes) -> tuple[str, ...]:
    kind = dict(scope.get("headers", [])).get(b"content-type", b"").split(b";")[0].strip()
    try:
        if kind == b"application/json":
            given = json.loads(body)
            return tuple(str(name) for name in given) if isinstance(given, dict) else ()
        if kind == b"application/x-www-form-urlencoded":
            fields = parse_qsl(body.decode(), keep_blank_values=True)
            return tuple(name for name, _ in fields if name != "csrf")
    except (ValueError, UnicodeDecodeError):
        pass
    return ()


def _sid_of(answered: bytes) -> str | None:
    try:
        sid = json.loads(answered).get("sid")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return sid if isinstance(sid, str) else None
