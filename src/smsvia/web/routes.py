"""Dashboard pages. Thin like the API: read the form, call a service, render a template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from smsvia.domain.errors import DomainError, NotFound
from smsvia.domain.status import FINAL, Status
from smsvia.services import activity, message_views
from smsvia.services import messages as message_service
from smsvia.services.quote import quote_message
from smsvia.web import campaigns, contacts, demo_phone, optin, reports, signin, users
from smsvia.web.pages import Marketer, SignedIn, render
from smsvia.web.session import RoleRequired, SignInRequired, WebSession, check_csrf
from smsvia.web.signin import local_target

HERE = Path(__file__).parent
PAGE_SIZE = 50

router = APIRouter(include_in_schema=False)


def install(app: FastAPI) -> None:
    """Mount the dashboard, the opt-in forms, their static files, and the redirect to sign in.
    (The short links' redirects, web/links.py, are public traffic: api/app.py includes them
    ahead of all this.)"""
    app.include_router(router)
    app.include_router(signin.router)
    app.include_router(users.router)
    app.include_router(campaigns.router)
    app.include_router(contacts.router)
    app.include_router(optin.router)
    app.include_router(demo_phone.router)
    app.include_router(reports.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _: SignInRequired) -> Response:
        target = "/login?" + urlencode({"next": local_target(str(request.url.path))})
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(RoleRequired)
    async def _forbidden(request: Request, refused: RoleRequired) -> Response:
        return render(request, "forbidden.html", status_code=403, role=refused.role)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/messages", status_code=303)


@router.get("/m/{token}")
async def media_preview(request: Request, token: str) -> HTMLResponse:
    """The page an SMS fallback links to for pictures: Open Graph tags make phones show a
    preview of the image in the conversation. Public: the unguessable token is the key."""
    shown = await activity.preview(request.app.state.runtime.store, token)
    if shown is None:
        return render(request, "not_found.html", status_code=404, sid="")
    return render(request, "preview.html", preview=shown, page_url=str(request.url))


@router.get("/messages")
async def message_list(
    request: Request, session: SignedIn, status: str = "", to: str = "", page_token: str = ""
) -> HTMLResponse:
    context = await _message_rows(request, session, status, to, page_token)
    counts = await activity.recent_status_counts(request.app.state.runtime.store, session.principal)
    return render(
        request,
        "messages.html",
        session=session,
        counts=counts,
        recent=activity.RECENT,
        statuses=[str(s) for s in Status],
        **context,
    )


@router.get("/messages/rows")
async def message_rows(
    request: Request, session: SignedIn, status: str = "", to: str = "", page_token: str = ""
) -> HTMLResponse:
    """The table body alone, which the list page polls to keep statuses current."""
    context = await _message_rows(request, session, status, to, page_token)
    return render(request, "_message_rows.html", session=session, **context)


@router.get("/messages/{sid}")
async def message_detail(request: Request, session: SignedIn, sid: str) -> HTMLResponse:
    try:
        context = await _message(request, session, sid)
    except NotFound:
        return render(request, "not_found.html", status_code=404, session=session, sid=sid)
    return render(request, "message.html", session=session, **context)


@router.get("/messages/{sid}/live")
async def message_live(request: Request, session: SignedIn, sid: str) -> HTMLResponse:
    """Status, timeline and callbacks alone, polled until the message is final."""
    return render(
        request, "_message_live.html", session=session, **await _message(request, session, sid)
    )


@router.get("/send")
async def send_form(request: Request, session: SignedIn) -> HTMLResponse:
    return await _send_page(request, session)


@router.post("/send/quote")
async def send_quote(
    request: Request,
    session: SignedIn,
    to: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """What the text being typed will cost: encoding, segments, price."""
    return render(request, "_quote.html", **_quote(request, to, body))


@router.post("/send")
async def send(
    request: Request,
    session: Marketer,
    to: Annotated[str, Form()] = "",
    sender: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    status_callback: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    form = {"to": to, "sender": sender, "body": body, "status_callback": status_callback}
    if not check_csrf(session, csrf):
        return await _send_page(
            request, session, form, "The form expired; send it again.", status_code=403
        )
    runtime = request.app.state.runtime
    try:
        view = await message_service.send_message(
            runtime.store,
            session.principal,
            message_service.SendRequest(
                to=to.strip() or None,
                sender=sender,
                body=body,
                status_callback=status_callback.strip() or None,
            ),
            price_book=runtime.price_book,
            default_region=runtime.settings.default_region,
            intake=runtime.intake,
            allow_private_urls=runtime.settings.allow_private_urls,
        )
    except DomainError as exc:
        return await _send_page(request, session, form, exc.message, status_code=400)
    return RedirectResponse(f"/messages/{view.sid}", status_code=303)


async def _message_rows(
    request: Request, session: WebSession, status: str, to: str, page_token: str
) -> dict[str, object]:
    query = message_views.ListQuery(
        to=to.strip() or None,
        status=status or None,
        page_size=PAGE_SIZE,
        page_token=page_token or None,
    )
    error = None
    try:
        page = await message_views.list_messages(
            request.app.state.runtime.store, session.principal, query
        )
    except DomainError as exc:
        page, error = message_views.MessagePage([], None), exc.message
    filters = {"status": status, "to": to}
    return {
        "page": page,
        "filters": filters,
        "error": error,
        "query": urlencode({**filters, "page_token": page_token}),
        "next_query": urlencode({**filters, "page_token": page.next_token or ""}),
    }


async def _message(request: Request, session: WebSession, sid: str) -> dict[str, object]:
    store = request.app.state.runtime.store
    view = await message_views.get_message(store, session.principal, sid, with_timeline=True)
    callbacks = await activity.callback_history(store, session.principal, sid)
    # Callbacks about the final status are made after it, so keep watching until they are.
    settled = view.status in FINAL and not callbacks.pending
    return {"message": view, "callbacks": callbacks.attempts, "settled": settled}


async def _send_page(
    request: Request,
    session: WebSession,
    form: dict[str, str] | None = None,
    error: str | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    senders = await activity.senders(request.app.state.runtime.store, session.principal)
    form = form or {
        "to": "",
        "sender": senders[0] if senders else "",
        "body": "",
        "status_callback": "",
    }
    return render(
        request,
        "send.html",
        status_code=status_code,
        session=session,
        senders=senders,
        form=form,
        error=error,
        **_quote(request, form["to"], form["body"]),
    )


def _quote(request: Request, to: str, body: str) -> dict[str, object]:
    runtime = request.app.state.runtime
    try:
        quote = quote_message(
            body,
            price_book=runtime.price_book,
            to=to.strip() or None,
            default_region=runtime.settings.default_region,
        )
    except DomainError as exc:
        return {"quote": None, "quote_error": exc.message}
    return {"quote": quote.as_dict(), "quote_error": None}
