"""`/l/{code}`: the short links in texts. A person is redirected to the shop's page (the
click counted, UTM parameters added); a link-preview fetcher gets a page of Open Graph
tags, so the phone shows a picture and a title under the link. Public: the code is the key."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from smsvia.services import links
from smsvia.web.pages import render

router = APIRouter(include_in_schema=False)


@router.api_route("/l/{code}", methods=["GET", "HEAD"])
async def short_link(request: Request, code: str) -> Response:
    runtime = request.app.state.runtime
    visit = await links.follow(
        runtime.store,
        code,
        method=request.method,
        user_agent=request.headers.get("user-agent", ""),
        visits=runtime.visits,
        allow_private_urls=runtime.settings.allow_private_urls,
    )
    if visit is None:
        return render(request, "not_found.html", status_code=404, sid="")
    if visit.redirect is not None:
        return RedirectResponse(visit.redirect, status_code=302)
    return render(
        request,
        "link_preview.html",
        tags=visit.preview,
        destination=visit.destination,
        page_url=str(request.url),
    )
