"""`serve --demo` only: a pretend phone on the built-in SMSC. It shows what a number has
received (links tappable) and texts our numbers from it (STOP, HELP, the Y of a double
opt-in), as a customer's handset would, and the pictures the demo MMSC took for it; its owner
can also buy at the demo shop. Without
--demo these pages do not exist."""

from __future__ import annotations

import base64
import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from smsvia.domain.errors import DomainError
from smsvia.domain.orders import NewOrder, parse_total
from smsvia.domain.phone import parse_phone
from smsvia.services.accounts import acting_for
from smsvia.services.orders import record_order
from smsvia.web.optin import same_site
from smsvia.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/demo/phone")
async def phone(request: Request, number: str = "+14155550100", note: str = "") -> Response:
    demo = getattr(request.app.state, "demo", None)
    if demo is None:
        return Response(status_code=404)
    return templates.TemplateResponse(
        request,
        "demo_phone.html",
        {
            "demo": demo,
            "number": number,
            "note": note,
            "texts": demo.smsc.texts_to(number.strip()),
            "pictures": _mms_to(demo, number),
        },
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
        {
            "number": number,
            "texts": demo.smsc.texts_to(number.strip()),
            "pictures": _mms_to(demo, number),
        },
    )


def _mms_to(demo: Any, number: str) -> list[dict[str, Any]]:
    """The MMS the demo MMSC took for this phone: each one's text and pictures."""
    return [
        {
            "text": submit.text,
            "images": [
                f"data:{a.content_type};base64,{base64.b64encode(a.data).decode()}"
                for a in submit.attachments
                if a.content_type.startswith("image/")
            ],
        }
        for submit in demo.mmsc.records.accepted
        if submit.recipient == number.strip()
    ]


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


@router.post("/demo/phone/order")
async def order_from_phone(
    request: Request,
    number: Annotated[str, Form()] = "",
    total: Annotated[str, Form()] = "",
) -> Response:
    """The customer with this phone buys at the demo shop: the order is recorded as the
    shop's checkout would post it (POST /v1/orders) and attributed."""
    demo = getattr(request.app.state, "demo", None)
    if demo is None or not same_site(request):
        return Response(status_code=404 if demo is None else 403)
    runtime = request.app.state.runtime
    try:
        handset = parse_phone(number).e164
        principal = await acting_for(runtime.store, demo.credentials.sid, via="demo")
        recorded = await record_order(
            runtime.store,
            principal,
            NewOrder(
                f"DEMO-{secrets.token_hex(3)}",
                parse_total(total, "total"),
                "USD",
                None,
                phone=handset,
            ),
        )
    except DomainError as exc:
        return Response(exc.message, status_code=400)
    order = recorded.order
    credited = order["attributed_to"]
    note = f"Order {order['order_id']}: {order['total']} {order['currency']}, " + (
        f"credited to campaign {credited['campaign_sid']} (by {credited['by']})"
        if credited and credited["campaign_sid"]
        else "not credited to any text"
    )
    return RedirectResponse(
        "/demo/phone?" + urlencode({"number": handset, "note": note}), status_code=303
    )


@router.get("/demo/shop")
async def shop_page(request: Request) -> Response:
    """The demo shop's product page that demo campaigns link to, with Open Graph tags."""
    if getattr(request.app.state, "demo", None) is None:
        return Response(status_code=404)
    return templates.TemplateResponse(request, "demo_shop.html", {})
