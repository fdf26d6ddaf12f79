"""Signing in and out of the dashboard: with an email and password (a user), or with the
account's SID and auth token (its owner). Attempts are throttled per login and per address,
one limit for every server process (services/rate_gate.py), before any password is checked.
"""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from smsvia.domain import ids
from smsvia.domain.errors import AuthenticationFailed
from smsvia.services import users
from smsvia.web.pages import SignedIn, render
from smsvia.web.session import check_csrf, record_change, sign_in, sign_out

router = APIRouter(include_in_schema=False)

# Tries per login (email or Account SID): five, then one a minute; per address: twenty,
# then one every ten seconds (an office behind one address signs in at nine).
PER_LOGIN = (1 / 60, 5)
PER_ADDRESS = (1 / 10, 20)


@router.get("/login")
async def login_form(request: Request, next: str = "/messages") -> HTMLResponse:
    return render(request, "login.html", next=local_target(next))


@router.post("/login")
async def login(
    request: Request,
    login: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/messages",
) -> Response:
    runtime = request.app.state.runtime
    login = login.strip()
    address = request.client.host if request.client else "unknown"

    def again(error: str, status_code: int) -> HTMLResponse:
        return render(
            request,
            "login.html",
            status_code=status_code,
            next=local_target(next),
            login=login,
            error=error,
        )

    who = runtime.store.cipher.blind_index(login.lower(), "dashboard login")
    wait = max(
        await runtime.gate.admit(f"login:{who}", *PER_LOGIN),
        await runtime.gate.admit(f"login-from:{address}", *PER_ADDRESS),
    )
    if wait:
        minutes = max(1, math.ceil(wait / 60))
        return again(f"Too many attempts. Try again in {minutes} minute(s).", 429)
    try:
        if ids.is_sid(login, ids.ACCOUNT):
            principal = await runtime.authenticator.authenticate(login, password.strip())
            token = await users.sign_in_account(runtime.store, principal, address)
        else:
            token = await users.sign_in_user(runtime.store, login, password, address)
    except AuthenticationFailed:
        return again("That login and password do not match.", 401)
    response = RedirectResponse(local_target(next), status_code=303)
    sign_in(request, response, token)
    live = await users.live(runtime.store, token)
    if live is not None:
        await record_change(request, live, "dashboard.sign_in")
    return response


@router.post("/logout")
async def logout(
    request: Request, session: SignedIn, csrf: Annotated[str, Form()] = ""
) -> Response:
    response = RedirectResponse("/login", status_code=303)
    if check_csrf(session, csrf):
        await sign_out(request, response)
        await record_change(request, session, "dashboard.sign_out")
    return response


def local_target(target: str) -> str:
    """Only redirect within this site (a `next` of //evil.example must not leave it)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/messages"
    return target
