"""Dashboard sign-in: a random session token in a cookie, kept server-side (services/users.py)
so a session can be revoked at once, and a CSRF token derived from it for every form.

The CSRF token is an HMAC of the session token under the server's signing key: it needs no
storage, changes with every session, and cannot be made without the key. Forms carry the
primary key's; while the master key rotates, one made under an older key of the ring is
accepted too, so a form open in a browser across the restart that brought the new key in
still goes through.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from smsvia.services import audit, users
from smsvia.services.accounts import Principal
from smsvia.services.users import LiveSession

COOKIE = "smsvia_session"
MAX_AGE = int(users.SESSION_LIFETIME.total_seconds())


@dataclass(frozen=True, slots=True)
class WebSession:
    """The signed-in visitor, as pages see them."""

    live: LiveSession
    csrf_accepted: tuple[str, ...]  # what a form may bring back: one per key of the ring

    @property
    def csrf(self) -> str:
        """What forms carry: the token under the primary key."""
        return self.csrf_accepted[0]

    @property
    def principal(self) -> Principal:
        return self.live.principal

    @property
    def role(self) -> str:
        return self.live.role

    def may(self, role: str) -> bool:
        return self.live.may(role)


class SignInRequired(Exception):
    """No valid session: the page redirects to the sign-in form."""


class RoleRequired(Exception):
    """Signed in, but the visitor's role may not do this: a 403 page."""

    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.role = role


def sign_in(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


async def sign_out(request: Request, response: Response) -> None:
    token = request.cookies.get(COOKIE)
    if token:
        await users.sign_out(request.app.state.runtime.store, token)
    response.delete_cookie(COOKIE, path="/")


async def current_session(request: Request) -> WebSession:
    """The signed-in visitor, or SignInRequired."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 100:
        raise SignInRequired
    live = await users.live(request.app.state.runtime.store, token)
    if live is None:
        raise SignInRequired
    signing_keys = request.app.state.runtime.store.cipher.signing_keys
    return WebSession(live, tuple(_csrf_of(key, token) for key in signing_keys))


def at_least(role: str) -> Callable[[Request], Coroutine[Any, Any, WebSession]]:
    """A dependency: the signed-in visitor, whose role must be `role` or above."""

    async def session(request: Request) -> WebSession:
        found = await current_session(request)
        if not found.may(role):
            raise RoleRequired(role)
        return found

    return session


def check_csrf(session: WebSession, submitted: str | None) -> bool:
    if submitted is None:
        return False
    # Every one compared, so the time taken does not tell which key matched.
    return sum(hmac.compare_digest(token, submitted) for token in session.csrf_accepted) > 0


def _csrf_of(key: bytes, token: str) -> str:
    return hmac.new(key, b"csrf\0" + token.encode(), hashlib.sha256).hexdigest()[:32]


async def record_change(
    request: Request,
    session: WebSession | LiveSession,
    action: str,
    obj: str | None = None,
    given: tuple[str, ...] = (),
) -> None:
    """A change made in the dashboard, in the audit log (names of fields, never values)."""
    live = session.live if isinstance(session, WebSession) else session
    change = audit.Change(
        actor=live.actor,
        action=action,
        object=obj,
        address=request.client.host if request.client else None,
        given=tuple(name for name in given if name != "csrf"),
    )
    await audit.record(request.app.state.runtime.store, live.principal.account_id, change)
