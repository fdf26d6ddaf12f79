"""`serve --demo` only: a pretend phone on the built-in SMSC. It shows what a number has
received and texts our numbers from it (STOP, HELP, the Y of a double opt-in), as a
customer's handset would. Without --demo the page does not exist."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from smsvia.domain.errors import DomainError
from smsvia.domain.phone import parse_phone
from smsvia.web.optin import same_site
from smsvia.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/demo/phone")
async def phone(request: Request, number: str = "+14155550100") -> Response:
    demo = getattr(request.app.state, "demo", None)
    if demo is None:
        return Response(status_code=404)
    return templates.TemplateResponse(
        request,
        "demo_phone.html",
        {"demo": demo, "number": number, "texts": demo.smsc.texts_to(number.strip())},
    )


@router.get("/demo/phone/texts")
async def received_texts(request: Request, number: str) -> Response:
    """The list of texts alone, which the page polls."""
    demo = getattr(request.app.state, "demo", None)
    if demo is None:
        return Response(status_code=404)
    return templates.TemplateResponse(
        request,
        "_demo_texts.html",
        {"number": number, "texts": demo.smsc.texts_to(number.strip())},
    )


@router.post("/demo/phone")
async def text_from_phone(
    request: Request,
    number: Annotated[str, Form()] = "",
    to: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    demo = getattr(request.app.state, "demo", None)
    if demo is None or not same_site(request):
        return Response(status_code=404 if demo is None else 403)
    try:
        handset = parse_phone(number).e164
    except DomainError as exc:
        return Response(exc.message, status_code=400)
    if text.strip():
        await demo.smsc.deliver_mo(handset, to, text)
    return RedirectResponse("/demo/phone?" + urlencode({"number": handset}), status_code=303)
