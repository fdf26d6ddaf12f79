"""Dashboard sign-in: a signed, expiring cookie naming the account, with a CSRF token.

The cookie holds no secret: the account SID, a hash of its auth token (so rotating the token
signs everyone out) and a random CSRF token, signed with a key derived from the master key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from smsvia.domain.errors import AuthenticationFailed
from smsvia.services import audit
from smsvia.services.accounts import Principal

COOKIE = "smsvia_session"
MAX_AGE = 12 * 3600  # seconds


@dataclass(frozen=True, slots=True)
class WebSession:
    principal: Principal
    csrf: str


class SignInRequired(Exception):
    """No valid session: the page redirects to the sign-in form."""


def sign_in(request: Request, response: Response, principal: Principal) -> None:
    payload = {
        "account": principal.account_sid,
        "token": _fingerprint(principal.auth_token),
        "csrf": secrets.token_urlsafe(24),
    }
    response.set_cookie(
        COOKIE,
        _serializer(request).dumps(payload),
        max_age=MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


async def current_session(request: Request) -> WebSession:
    """The signed-in account, or SignInRequired."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        raise SignInRequired
    try:
        payload = _serializer(request).loads(raw, max_age=MAX_AGE)
        account_sid, csrf = str(payload["account"]), str(payload["csrf"])
        fingerprint = str(payload["token"])
    except (BadSignature, KeyError, TypeError) as exc:
        raise SignInRequired from exc
    runtime = request.app.state.runtime
    try:
        principal = await runtime.authenticator.account(account_sid)
    except AuthenticationFailed as exc:
        raise SignInRequired from exc
    if not hmac.compare_digest(fingerprint, _fingerprint(principal.auth_token)):
        raise SignInRequired
    return WebSession(principal, csrf)


def check_csrf(session: WebSession, submitted: str | None) -> bool:
    return submitted is not None and hmac.compare_digest(session.csrf, submitted)


def _serializer(request: Request) -> URLSafeTimedSerializer:
    key = request.app.state.runtime.store.cipher.signing_key
    return URLSafeTimedSerializer(key, salt="smsvia dashboard session")


def _fingerprint(auth_token: str) -> str:
    return hashlib.sha256(auth_token.encode()).hexdigest()[:32]


async def record_change(
    request: Request,
    principal: Principal,
    action: str,
    obj: str | None = None,
    given: tuple[str, ...] = (),
) -> None:
    """A change made in the dashboard, in the audit log (names of fields, never values)."""
    change = audit.Change(
        actor=f"dashboard:{principal.account_sid}",
        action=action,
        object=obj,
        address=request.client.host if request.client else None,
        given=tuple(name for name in given if name != "csrf"),
    )
    await audit.record(request.app.state.runtime.store, principal.account_id, change)
