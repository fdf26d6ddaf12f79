"""Dashboard pages for tracking: a campaign's report (figures per variant and channel,
clicks and orders by hour drawn as bars; CSV to download) and the insights page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from smsvia.domain.errors import NotFound
from smsvia.services.campaign_report import campaign_report, report_csv
from smsvia.services.insights import insights
from smsvia.web.pages import SignedIn, render

router = APIRouter(include_in_schema=False)


@router.get("/campaigns/{sid}/report")
async def report_part(request: Request, session: SignedIn, sid: str) -> HTMLResponse:
    """The report alone, as the campaign page loads and refreshes it."""
    try:
        report = await campaign_report(request.app.state.runtime.store, session.principal, sid)
    except NotFound:
        return render(request, "not_found.html", status_code=404, session=session, sid=sid)
    return render(request, "_campaign_report.html", report=report, chart=hour_chart(report))


@router.get("/campaigns/{sid}/report.csv")
async def report_download(request: Request, session: SignedIn, sid: str) -> Response:
    report = await campaign_report(request.app.state.runtime.store, session.principal, sid)
    return Response(
        report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{sid}-report.csv"'},
    )


@router.get("/insights")
async def insights_page(request: Request, session: SignedIn) -> HTMLResponse:
    found = await insights(request.app.state.runtime.store, session.principal)
    return render(request, "insights.html", session=session, insights=found)


def hour_chart(report: dict, height: int = 120) -> list[dict]:
    """Bars for the chart of clicks and orders by hour: each hour's label and bar heights
    scaled to the busiest hour."""
    hours = report["by_hour"]
    top_clicks = max((h["clicks"] for h in hours), default=0) or 1
    top_orders = max((h["orders"] for h in hours), default=0) or 1
    return [
        {
            "label": h["hour"][11:16],
            "day": h["hour"][:10],
            "clicks": h["clicks"],
            "orders": h["orders"],
            "revenue": h["revenue"],
            "click_height": round(height * h["clicks"] / top_clicks),
            "order_height": round(height * h["orders"] / top_orders),
        }
        for h in hours
    ]
