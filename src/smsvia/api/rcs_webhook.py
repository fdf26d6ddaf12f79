"""The RBM events webhook: POST /rcs/{connector}/events (the URL to give the RBM platform)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from smsvia.api.openapi_extras import answers
from smsvia.domain.errors import InvalidParameter
from smsvia.services import rcs_inbox

router = APIRouter(tags=["RCS"])


@router.post(
    "/rcs/{connector}/events",
    responses=answers(
        "application/json", "text/plain", description="The event kept, or the handshake's secret"
    ),
)
async def rbm_events(connector: str, request: Request) -> Response:
    """The verification handshake, or one signed event (stored, applied asynchronously)."""
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise InvalidParameter("the body is not JSON", code=21100) from exc
    answer = await rcs_inbox.receive(
        request.app.state.runtime.store,
        connector,
        body,
        request.headers.get("x-goog-signature"),
    )
    if isinstance(answer, rcs_inbox.Handshake):
        return PlainTextResponse(answer.secret)
    return JSONResponse({"eventId": answer.event_id, "duplicate": not answer.new})
