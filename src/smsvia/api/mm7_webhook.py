"""The MM7 webhook: POST /mm7/{connector} (the URL to give the MMS relay) takes delivery
reports and inbound MMS, and answers in MM7: DeliveryReportRsp or DeliverRsp once kept, a
SOAP fault with an MM7 status otherwise (nothing half-kept: the relay tries again)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from smsvia.api.openapi_extras import MM7_ANSWERS
from smsvia.domain import mm7
from smsvia.domain.errors import AuthenticationFailed, NotFound
from smsvia.services import mms_inbox
from smsvia.services.delivery import Tracker

router = APIRouter(tags=["MMS"])


@router.post("/mm7/{connector}", responses=MM7_ANSWERS)
async def mm7_in(connector: str, request: Request) -> Response:
    runtime = request.app.state.runtime
    try:
        read = mm7.parse_relay_request(
            await request.body(), request.headers.get("content-type", "")
        )
    except mm7.Malformed as exc:
        return _fault("", mm7.Mm7Status.FORMAT_CORRUPT, f"malformed MM7: {exc}", 400)
    try:
        answered = await mms_inbox.receive(
            runtime.store,
            Tracker(runtime.store),
            runtime.price_book,
            connector,
            read,
            request.headers.get("authorization"),
            public_url=runtime.settings.public_url,
        )
    except NotFound as exc:
        return _fault(read.transaction_id, mm7.Mm7Status.VALIDATION_ERROR, exc.message, 404)
    except AuthenticationFailed as exc:
        return _fault(read.transaction_id, mm7.Mm7Status.IMPROPER_IDENTIFICATION, exc.message, 401)
    body = mm7.answer(answered.kind, answered.transaction_id)
    return Response(body, media_type="text/xml; charset=utf-8")


def _fault(transaction_id: str, status: int, text: str, http_status: int) -> Response:
    body = mm7.fault(transaction_id, status, text, relay=False)
    headers = {"WWW-Authenticate": 'Basic realm="smsvia"'} if http_status == 401 else None
    return Response(
        body, status_code=http_status, media_type="text/xml; charset=utf-8", headers=headers
    )
