"""The hosted opt-in form, /optin/{sid}: public, embeddable, protected against forgery.

The page carries a signed, expiring token naming the form; a submission without it, or
posted from another site's page (Origin, Sec-Fetch-Site), is refused. A cookie would not
work here: inside a shop's iframe a browser does not send ours. Each address may submit a
few times, then one more every two minutes (one limit for every server process), and a hidden
field that people never fill catches simple bots.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer

from smsvia.domain.errors import DomainError, NotFound
from smsvia.services import optin
from smsvia.web.templating import templates

TOKEN_MAX_AGE = 2 * 3600  # seconds a page stays valid
SUBMISSIONS_PER_ADDRESS = 5  # per form, then one more every two minutes

router = APIRouter(include_in_schema=False)
# The page may be framed by any site (that is the embed); nothing else about it may be loaded.
_HEADERS = {
    "Content-Security-Policy": "frame-ancestors *; default-src 'self'; form-action 'self'",
    "Cache-Control": "no-store",
    # Not no-referrer: with it, browsers send "Origin: null" and the origin check fails.
    "Referrer-Policy": "same-origin",
}


@router.get("/optin/{sid}")
async def form_page(request: Request, sid: str) -> HTMLResponse:
    try:
        form = await optin.public_form(request.app.state.runtime.store, sid)
    except NotFound:
        return _page(request, "optin_missing.html", 404)
    return _page(request, "optin.html", 200, form=form, token=_signer(request).dumps(sid))


@router.post("/optin/{sid}")
async def submit(
    request: Request,
    sid: str,
    token: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    first_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    consent: Annotated[str, Form()] = "",
    website: Annotated[str, Form()] = "",  # the honeypot: hidden from people
) -> HTMLResponse:
    runtime = request.app.state.runtime
    try:
        form = await optin.public_form(runtime.store, sid)
    except NotFound:
        return _page(request, "optin_missing.html", 404)
    entered = {"phone": phone, "first_name": first_name, "email": email}

    def again(error: str, status: int) -> HTMLResponse:
        fresh = _signer(request).dumps(sid)
        return _page(request, "optin.html", status, form=form, token=fresh, error=error, **entered)

    if not same_site(request) or not _valid_token(request, token, sid):
        return again("This form expired or was sent from another site. Please try again.", 403)
    address = request.client.host if request.client else "unknown"
    # One limit for every server process (services/rate_gate.py).
    if await runtime.gate.admit(f"form:{sid}:{address}", 1 / 120, SUBMISSIONS_PER_ADDRESS):
        return again("Too many sign-ups from your network. Try again in a few minutes.", 429)
    if website:
        return _page(request, "optin_done.html", 200, form=form, phone="", texted=True)
    try:
        done = await optin.submit(
            runtime.store,
            runtime.price_book,
            sid,
            optin.Submission(
                phone=phone,
                consent=consent == "yes",
                first_name=first_name,
                email=email,
                ip=address,
                user_agent=request.headers.get("user-agent", ""),
                page_url=str(request.url),
            ),
            default_region=runtime.settings.default_region,
        )
    except DomainError as exc:
        return again(exc.message, 400)
    return _page(request, "optin_done.html", 200, form=form, phone=done.phone, texted=done.texted)


def same_site(request: Request) -> bool:
    """A browser names the page a form was posted from; it must be ours."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser, or an old one: the token still has to match
    ours = {request.url.netloc, urlsplit(request.app.state.runtime.settings.public_url).netloc}
    return urlsplit(origin).netloc in ours


def _valid_token(request: Request, token: str, sid: str) -> bool:
    try:
        return _signer(request).loads(token, max_age=TOKEN_MAX_AGE) == sid
    except BadSignature:
        return False


def _signer(request: Request) -> URLSafeTimedSerializer:
    # Signed with the primary key, checked with every key of the ring (the last signs).
    keys = list(reversed(request.app.state.runtime.store.cipher.signing_keys))
    return URLSafeTimedSerializer(keys, salt="smsvia opt-in form")


def _page(request: Request, template: str, status: int, **context: object) -> HTMLResponse:
    return templates.TemplateResponse(
        request, template, context, status_code=status, headers=_HEADERS
    )
