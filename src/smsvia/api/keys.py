"""Twilio's Keys resource: API keys made, listed, fetched and deleted over the API (the
`admin` scope). The secret is in the create answer only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from smsvia.api.audit_trail import audited
from smsvia.api.auth import Admin, same_account
from smsvia.api.openapi_extras import form_body, one_page
from smsvia.domain.twilio_format import rfc2822
from smsvia.services import keys as service
from smsvia.services.delivery import API_VERSION

router = APIRouter(prefix=f"/{API_VERSION}/Accounts/{{account_sid}}", tags=["Keys"])

_NEW_KEY = {
    "FriendlyName": {"type": "string"},
    "Scope": {"type": "array", "items": {"type": "string", "enum": list(service.SCOPES)}},
}


@router.post("/Keys.json", status_code=201, openapi_extra=form_body(_NEW_KEY))
@audited("keys.create")
async def create_key(account_sid: str, request: Request, caller: Admin) -> JSONResponse:
    same_account(caller, account_sid)
    form = await request.form()
    made = await service.create_key(
        request.app.state.runtime.store,
        account_sid,
        str(form.get("FriendlyName") or ""),
        [str(scope) for scope in form.getlist("Scope")] or None,
    )
    return JSONResponse({**key_resource(made.key), "secret": made.secret}, status_code=201)


@router.get("/Keys.json")
async def list_keys(account_sid: str, request: Request, caller: Admin) -> dict[str, Any]:
    same_account(caller, account_sid)
    found = await service.list_keys(request.app.state.runtime.store, caller.account_id)
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Keys.json"
    return one_page("keys", [key_resource(key) for key in found], uri)


@router.get("/Keys/{sid}.json")
async def fetch_key(account_sid: str, sid: str, request: Request, caller: Admin) -> dict[str, Any]:
    same_account(caller, account_sid)
    return key_resource(
        await service.get_key(request.app.state.runtime.store, caller.account_id, sid)
    )


@router.delete("/Keys/{sid}.json", status_code=204)
@audited("keys.delete")
async def delete_key(account_sid: str, sid: str, request: Request, caller: Admin) -> Response:
    same_account(caller, account_sid)
    await service.delete_key(request.app.state.runtime.store, caller.account_id, sid)
    return Response(status_code=204)


def key_resource(key: service.KeyView) -> dict[str, Any]:
    return {
        "sid": key.sid,
        "friendly_name": key.friendly_name,
        "date_created": rfc2822(key.date_created),
        "date_updated": rfc2822(key.date_created),
        "scopes": list(key.scopes),  # smsvia's addition
    }
