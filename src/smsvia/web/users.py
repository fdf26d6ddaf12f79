"""The account's dashboard users, for its owners: add one with a role, sign one out
everywhere, remove one. Every change is in the audit log (never the password)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from smsvia.domain.errors import DomainError
from smsvia.services import users
from smsvia.web.pages import Owner, render
from smsvia.web.session import WebSession, check_csrf, record_change

router = APIRouter(include_in_schema=False)


@router.get("/users")
async def user_list(request: Request, session: Owner) -> HTMLResponse:
    return await _page(request, session)


@router.post("/users")
async def user_add(
    request: Request,
    session: Owner,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "viewer",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    form = {"email": email, "role": role}
    if not check_csrf(session, csrf):
        return await _page(request, session, form, "The form expired; try again.", 403)
    store = request.app.state.runtime.store
    try:
        made = await users.add_user(store, session.principal.account_sid, email, password, role)
    except DomainError as exc:
        return await _page(request, session, form, exc.message, exc.http_status)
    await record_change(request, session, "users.create", made.sid, ("email", "password", "role"))
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{sid}/{action}")
async def user_action(
    request: Request, session: Owner, sid: str, action: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    work = {"sign-out": users.sign_out_everywhere, "remove": users.remove_user}.get(action)
    if work is None:
        return render(request, "not_found.html", status_code=404, session=session, sid=sid)
    if check_csrf(session, csrf):
        try:
            await work(request.app.state.runtime.store, session.principal.account_id, sid)
        except DomainError as exc:
            return await _page(request, session, {}, exc.message, exc.http_status)
        await record_change(request, session, f"users.{action.replace('-', '_')}", sid)
    return RedirectResponse("/users", status_code=303)


async def _page(
    request: Request,
    session: WebSession,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    found = await users.list_users(request.app.state.runtime.store, session.principal.account_id)
    return render(
        request,
        "users.html",
        status_code=status_code,
        session=session,
        users=found,
        roles=users.ROLES,
        form=form or {"email": "", "role": "viewer"},
        error=error,
        min_password=users.MIN_PASSWORD,
    )
