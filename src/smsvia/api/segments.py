"""Segments (native JSON API, same Basic auth): POST/GET /v1/segments, GET/DELETE
/v1/segments/{sid}, GET /v1/segments/{sid}/contacts. Counts are live."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from smsvia.api.audit_trail import audited
from smsvia.api.auth import CampaignsCaller
from smsvia.api.contacts import contact_resource
from smsvia.services import segments as service

router = APIRouter(prefix="/v1", tags=["Segments"])


class NewSegment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(examples=["VIP buyers, last 90 days"])
    match: str = Field("all", description="all | any")
    conditions: list[Any] = Field(
        examples=[
            [
                {"field": "tags", "op": "contains", "value": "vip"},
                {"field": "last_order_at", "op": "within_days", "value": 90},
                {"field": "marketing_allowed", "op": "eq", "value": True},
            ]
        ]
    )


@router.post("/segments", status_code=201)
@audited("segments.create")
async def create_segment(
    body: NewSegment, request: Request, caller: CampaignsCaller
) -> dict[str, Any]:
    view = await service.create_segment(
        request.app.state.runtime.store, caller, body.name, body.match, body.conditions
    )
    return segment_resource(view)


@router.get("/segments")
async def list_segments(
    request: Request, caller: CampaignsCaller, page_size: int = 50, page_token: str | None = None
) -> dict[str, Any]:
    page = await service.list_segments(
        request.app.state.runtime.store, caller, page_size=page_size, page_token=page_token
    )
    return {
        "segments": [segment_resource(view) for view in page.segments],
        "page_size": page_size,
        "next_page_uri": next_page_uri(request, page.next_token),
    }


@router.get("/segments/{sid}")
async def fetch_segment(sid: str, request: Request, caller: CampaignsCaller) -> dict[str, Any]:
    return segment_resource(await service.get_segment(request.app.state.runtime.store, caller, sid))


@router.delete("/segments/{sid}", status_code=204)
@audited("segments.delete")
async def delete_segment(sid: str, request: Request, caller: CampaignsCaller) -> Response:
    await service.delete_segment(request.app.state.runtime.store, caller, sid)
    return Response(status_code=204)


@router.get("/segments/{sid}/contacts")
async def segment_contacts(
    sid: str,
    request: Request,
    caller: CampaignsCaller,
    page_size: int = 50,
    page_token: str | None = None,
) -> dict[str, Any]:
    page = await service.segment_contacts(
        request.app.state.runtime.store,
        caller,
        sid,
        page_size=page_size,
        page_token=page_token,
    )
    return {
        "contacts": [contact_resource(view) for view in page.contacts],
        "page_size": page_size,
        "next_page_uri": next_page_uri(request, page.next_token),
    }


def next_page_uri(request: Request, token: str | None) -> str | None:
    if token is None:
        return None
    query = request.url.include_query_params(page_token=token)
    return f"{query.path}?{query.query}"


def segment_resource(view: service.SegmentView) -> dict[str, Any]:
    return {
        "sid": view.sid,
        "name": view.name,
        "match": view.match,
        "conditions": view.conditions,
        "count": view.count,
        "date_created": view.date_created.isoformat(),
        "date_updated": view.date_updated.isoformat(),
        "uri": f"/v1/segments/{view.sid}",
    }
