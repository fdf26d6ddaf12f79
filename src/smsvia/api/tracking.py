"""Tracking's API (native JSON, same Basic auth): orders (POST/GET /v1/orders), Shopify's
orders webhook (POST /webhooks/shopify/{account_sid}/orders, checked by
X-Shopify-Hmac-Sha256 instead), and what to change next (GET /v1/insights)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from smsvia.api.auth import CampaignsCaller
from smsvia.api.openapi_extras import answers
from smsvia.api.segments import next_page_uri
from smsvia.domain.orders import InvalidOrder, parse_order, shopify_order
from smsvia.services import orders as service
from smsvia.services.insights import insights

router = APIRouter(tags=["Tracking"])

_EXAMPLE = {
    "order_id": "1042",
    "phone": "+14155550100",
    "total": "59.90",
    "currency": "USD",
    "created_at": "2026-11-30T10:15:00Z",
}


@router.post(
    "/v1/orders",
    status_code=201,
    responses=answers("application/json", description="The order was already recorded"),
)
async def create_order(
    request: Request, caller: CampaignsCaller, body: Annotated[Any, Body(examples=[_EXAMPLE])]
) -> JSONResponse:
    """Record an order (idempotent by order_id: a repeat answers 200 with the first)."""
    runtime = request.app.state.runtime
    recorded = await service.record_order(
        runtime.store,
        caller,
        parse_order(body),
        default_region=runtime.settings.default_region,
    )
    return JSONResponse(recorded.order, status_code=201 if recorded.created else 200)


@router.get("/v1/orders")
async def list_orders(
    request: Request, caller: CampaignsCaller, page_size: int = 50, page_token: str | None = None
) -> dict[str, Any]:
    page = await service.list_orders(
        request.app.state.runtime.store, caller, page_size=page_size, page_token=page_token
    )
    return {
        "orders": page.orders,
        "page_size": page_size,
        "next_page_uri": next_page_uri(request, page.next_token),
    }


@router.post("/webhooks/shopify/{account_sid}/orders", include_in_schema=False)
async def shopify_orders(account_sid: str, request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    raw = await request.body()
    principal = await service.shopify_webhook(
        runtime.store, account_sid, raw, request.headers.get("x-shopify-hmac-sha256", "")
    )
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidOrder("the body is not JSON") from exc
    recorded = await service.record_order(
        runtime.store,
        principal,
        shopify_order(body),
        source="shopify",
        default_region=runtime.settings.default_region,
    )
    return JSONResponse(recorded.order, status_code=200)


@router.get("/v1/insights")
async def account_insights(request: Request, caller: CampaignsCaller) -> dict[str, Any]:
    """Suggestions from the last 90 days of campaigns, each with the figures behind it."""
    return await insights(request.app.state.runtime.store, caller)
