"""Dashboard pages for contacts: the list with search by number or tag, and one contact's
fields, messages and consent history."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from smsvia.domain.errors import DomainError, NotFound
from smsvia.services import consent, message_views
from smsvia.services import contacts as service
from smsvia.web.pages import SignedIn, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/contacts")
async def contact_list(
    request: Request, session: SignedIn, phone: str = "", tag: str = "", page_token: str = ""
) -> HTMLResponse:
    runtime = request.app.state.runtime
    error = None
    try:
        page = await service.list_contacts(
            runtime.store,
            session.principal,
            phone=phone.strip() or None,
            tag=tag.strip() or None,
            page_size=PAGE_SIZE,
            page_token=page_token or None,
            default_region=runtime.settings.default_region,
        )
    except DomainError as exc:
        page, error = service.ContactPage([], None), exc.message
    return render(
        request,
        "contacts.html",
        session=session,
        page=page,
        filters={"phone": phone, "tag": tag},
        error=error,
    )


@router.get("/contacts/{sid}")
async def contact_page(request: Request, session: SignedIn, sid: str) -> HTMLResponse:
    store = request.app.state.runtime.store
    try:
        contact = await service.get_contact(store, session.principal, sid)
    except NotFound:
        return render(request, "not_found.html", status_code=404, session=session, sid=sid)
    sent = await message_views.list_messages(
        store, session.principal, message_views.ListQuery(to=contact.phone, page_size=50)
    )
    received = await message_views.list_messages(
        store, session.principal, message_views.ListQuery(sender=contact.phone, page_size=50)
    )
    messages = sorted(
        [*sent.messages, *received.messages], key=lambda m: m.date_created, reverse=True
    )
    ledger = await consent.export(
        store, session.principal.account_id, session.principal.account_sid, contact.phone
    )
    return render(
        request,
        "contact.html",
        session=session,
        contact=contact,
        messages=messages[:50],
        ledger=ledger,
    )
