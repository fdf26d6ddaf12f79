"""Campaigns (native JSON API, same Basic auth): POST/GET /v1/campaigns, GET
/v1/campaigns/{sid} and …/report, and POST …/preview, …/launch, …/pause, …/resume,
…/cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from smsvia.api.audit_trail import audited
from smsvia.api.auth import CampaignsCaller
from smsvia.api.openapi_extras import CSV
from smsvia.api.segments import next_page_uri
from smsvia.domain.errors import InvalidParameter
from smsvia.services import campaign_report as reports
from smsvia.services import campaigns as service
from smsvia.services.campaign_preview import preview

router = APIRouter(prefix="/v1", tags=["Campaigns"])

_EXAMPLE = {
    "name": "New collection",
    "from": "+15005550006",
    "segment": "SG0123456789abcdef0123456789abcdef",
    "content": {"text": 'Hi {{ first_name | default: "there" }}, the new collection is in!'},
    "local_send_time": "10:00",
    "budget": "250.00",
}


@router.post("/campaigns", status_code=201)
@audited("campaigns.create")
async def create_campaign(
    request: Request,
    caller: CampaignsCaller,
    body: Annotated[dict[str, Any], Body(examples=[_EXAMPLE])],
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    return await service.create_campaign(
        runtime.store, caller, body, default_region=runtime.settings.default_region
    )


@router.get("/campaigns")
async def list_campaigns(
    request: Request, caller: CampaignsCaller, page_size: int = 50, page_token: str | None = None
) -> dict[str, Any]:
    page = await service.list_campaigns(
        request.app.state.runtime.store, caller, page_size=page_size, page_token=page_token
    )
    return {
        "campaigns": page.campaigns,
        "page_size": page_size,
        "next_page_uri": next_page_uri(request, page.next_token),
    }


@router.get("/campaigns/{sid}")
async def fetch_campaign(sid: str, request: Request, caller: CampaignsCaller) -> dict[str, Any]:
    return await service.get_campaign(request.app.state.runtime.store, caller, sid)


@router.post("/campaigns/{sid}/preview")
async def preview_campaign(sid: str, request: Request, caller: CampaignsCaller) -> dict[str, Any]:
    runtime = request.app.state.runtime
    return await preview(
        runtime.store,
        caller,
        sid,
        price_book=runtime.price_book,
        rules_book=runtime.rules,
        public_url=runtime.settings.public_url,
        default_region=runtime.settings.default_region,
    )


@router.get("/campaigns/{sid}/report", response_model=None, responses=CSV)
async def campaign_report(
    sid: str, request: Request, caller: CampaignsCaller, format: str = "json"
) -> dict[str, Any] | Response:
    """Per variant and channel: delivered, clicks, orders, revenue, cost and their rates;
    clicks and orders by hour. `?format=csv`: one row per variant and channel."""
    if format not in ("json", "csv"):
        raise InvalidParameter("format must be json or csv", code=21100, field="format")
    report = await reports.campaign_report(request.app.state.runtime.store, caller, sid)
    if format == "json":
        return report
    return Response(
        reports.report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{sid}-report.csv"'},
    )


@router.post("/campaigns/{sid}/launch")
@audited("campaigns.launch")
async def launch_campaign(sid: str, request: Request, caller: CampaignsCaller) -> dict[str, Any]:
    return await service.launch(request.app.state.runtime.store, caller, sid)


@router.post("/campaigns/{sid}/pause")
@audited("campaigns.pause")
async def pause_campaign(sid: str, request: Request, caller: CampaignsCaller) -> dict[str, Any]:
    return await service.pause(request.app.state.runtime.store, caller, sid)


@router.post("/campaigns/{sid}/resume")
@audited("campaigns.resume")
async def resume_campaign(sid: str, request: Request, caller: CampaignsCaller) -> dict[str, Any]:
    return await service.resume(request.app.state.runtime.store, caller, sid)


@router.post("/campaigns/{sid}/cancel")
@audited("campaigns.cancel")
async def cancel_campaign(sid: str, request: Request, caller: CampaignsCaller) -> dict[str, Any]:
    return await service.cancel(request.app.state.runtime.store, caller, sid)
