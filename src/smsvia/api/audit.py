"""The audit log over the API: GET /v1/audit, the account's changes, newest first (the
`admin` scope)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from smsvia.api.auth import Admin
from smsvia.api.segments import next_page_uri
from smsvia.services import audit as service

router = APIRouter(prefix="/v1", tags=["Audit"])


@router.get("/audit")
async def audit_events(
    request: Request,
    caller: Admin,
    page_size: int = 50,
    page_token: str | None = None,
) -> dict[str, Any]:
    page = await service.events(
        request.app.state.runtime.store, caller, page_size=page_size, page_token=page_token
    )
    return {
        "events": [service.resource(event) for event in page.events],
        "page_size": page_size,
        "next_page_uri": next_page_uri(request, page.next_token),
    }
