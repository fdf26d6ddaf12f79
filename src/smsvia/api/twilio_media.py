"""Twilio's Media subresource of a message: the list, one medium's metadata, its bytes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from smsvia.api.auth import Reader, same_account
from smsvia.api.openapi_extras import answers, one_page
from smsvia.domain.twilio_format import rfc2822
from smsvia.services import media_views as views
from smsvia.services.delivery import API_VERSION

router = APIRouter(prefix=f"/{API_VERSION}/Accounts/{{account_sid}}/Messages/{{message_sid}}")


@router.get("/Media.json")
async def list_media(
    account_sid: str, message_sid: str, request: Request, caller: Reader
) -> dict[str, Any]:
    same_account(caller, account_sid)
    media = await views.list_media(request.app.state.runtime.store, caller, message_sid)
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{message_sid}/Media.json"
    return one_page("media_list", [media_resource(medium) for medium in media], uri)


@router.get("/Media/{media_sid}.json")
async def fetch_medium(
    account_sid: str, message_sid: str, media_sid: str, request: Request, caller: Reader
) -> dict[str, Any]:
    same_account(caller, account_sid)
    store = request.app.state.runtime.store
    return media_resource(await views.get_medium(store, caller, message_sid, media_sid))


@router.get("/Media/{media_sid}", responses=answers("*/*", description="The bytes"))
async def medium_content(
    account_sid: str, message_sid: str, media_sid: str, request: Request
) -> Response:
    """The bytes, without credentials, as Twilio serves media (the SID is the key)."""
    content_type, data = await views.media_content(
        request.app.state.runtime.store, account_sid, message_sid, media_sid
    )
    return Response(data, media_type=content_type, headers={"Cache-Control": "private"})


def media_resource(medium: views.MediaView) -> dict[str, Any]:
    base = f"/{API_VERSION}/Accounts/{medium.account_sid}/Messages/{medium.parent_sid}"
    return {
        "account_sid": medium.account_sid,
        "content_type": medium.content_type,
        "date_created": rfc2822(medium.date_created),
        "date_updated": rfc2822(medium.date_created),
        "parent_sid": medium.parent_sid,
        "sid": medium.sid,
        "uri": f"{base}/Media/{medium.sid}.json",
    }
