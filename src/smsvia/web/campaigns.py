"""Dashboard pages for segments and campaigns: the list, the builder with its live count,
preview and cost, and a campaign's page with live figures and its messages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from smsvia.domain.audience import FIELDS, OPS, Kind, typed_value
from smsvia.domain.errors import DomainError, NotFound
from smsvia.services import activity, segments
from smsvia.services import campaigns as service
from smsvia.services.campaign_preview import draft_preview, preview
from smsvia.web.pages import Marketer, SignedIn, render
from smsvia.web.session import WebSession, check_csrf, record_change

router = APIRouter(include_in_schema=False)
CONDITION_ROWS = 3
ACTIONS = ("launch", "pause", "resume", "cancel")


@router.get("/campaigns")
async def campaign_list(request: Request, session: SignedIn) -> HTMLResponse:
    page = await service.list_campaigns(_store(request), session.principal, page_size=100)
    return render(request, "campaigns.html", session=session, campaigns=page.campaigns)


@router.get("/campaigns/new")
async def campaign_builder(request: Request, session: SignedIn) -> HTMLResponse:
    return await _builder(request, session, {})


@router.post("/campaigns/new/preview")
async def builder_preview(request: Request, session: SignedIn) -> HTMLResponse:
    """The builder's live part: the segment's count, sample texts, the cost."""
    form = dict(await request.form())
    runtime = request.app.state.runtime
    try:
        seen = await draft_preview(
            runtime.store,
            session.principal,
            _body(form),
            price_book=runtime.price_book,
            rules_book=runtime.rules,
            public_url=runtime.settings.public_url,
            default_region=runtime.settings.default_region,
        )
    except DomainError as exc:
        return render(request, "_builder_preview.html", seen=None, error=exc.message)
    return render(request, "_builder_preview.html", seen=seen, error=None)


@router.post("/campaigns/new")
async def campaign_create(request: Request, session: Marketer) -> Response:
    form = dict(await request.form())
    if not check_csrf(session, str(form.get("csrf", ""))):
        return await _builder(request, session, form, "The form expired; save it again.", 403)
    runtime = request.app.state.runtime
    try:
        made = await service.create_campaign(
            runtime.store,
            session.principal,
            _body(form),
            default_region=runtime.settings.default_region,
        )
    except DomainError as exc:
        return await _builder(request, session, form, exc.message, 400)
    await record_change(request, session, "campaigns.create", made["sid"], tuple(form))
    return RedirectResponse(f"/campaigns/{made['sid']}", status_code=303)


@router.get("/campaigns/{sid}")
async def campaign_page(request: Request, session: SignedIn, sid: str) -> HTMLResponse:
    try:
        context = await _campaign(request, session, sid)
    except NotFound:
        return render(request, "not_found.html", status_code=404, session=session, sid=sid)
    return render(request, "campaign.html", session=session, **context)


@router.get("/campaigns/{sid}/live")
async def campaign_live(request: Request, session: SignedIn, sid: str) -> HTMLResponse:
    """Figures and messages alone, polled while the campaign goes out."""
    context = await _campaign(request, session, sid)
    return render(request, "_campaign_live.html", session=session, **context)


@router.post("/campaigns/{sid}/preview")
async def campaign_preview(
    request: Request, session: SignedIn, sid: str, csrf: Annotated[str, Form()] = ""
) -> HTMLResponse:
    runtime = request.app.state.runtime
    context = await _campaign(request, session, sid)
    if not check_csrf(session, csrf):
        context["error"] = "The form expired; try again."
        return render(request, "campaign.html", status_code=403, session=session, **context)
    context["preview"] = await preview(
        runtime.store,
        session.principal,
        sid,
        price_book=runtime.price_book,
        rules_book=runtime.rules,
        public_url=runtime.settings.public_url,
        default_region=runtime.settings.default_region,
    )
    return render(request, "campaign.html", session=session, **context)


@router.post("/campaigns/{sid}/{action}")
async def campaign_action(
    request: Request,
    session: Marketer,
    sid: str,
    action: str,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if action not in ACTIONS:
        return render(request, "not_found.html", status_code=404, session=session, sid=sid)
    if check_csrf(session, csrf):
        try:
            await getattr(service, action)(_store(request), session.principal, sid)
        except DomainError as exc:
            context = await _campaign(request, session, sid)
            context["error"] = exc.message
            return render(
                request, "campaign.html", status_code=exc.http_status, session=session, **context
            )
        await record_change(request, session, f"campaigns.{action}", sid)
    return RedirectResponse(f"/campaigns/{sid}", status_code=303)


@router.get("/segments")
async def segment_list(request: Request, session: SignedIn) -> HTMLResponse:
    return await _segments(request, session, {})


@router.post("/segments/count")
async def segment_count(request: Request, session: SignedIn) -> HTMLResponse:
    """The live count while conditions are being written."""
    form = dict(await request.form())
    try:
        audience_count = await segments.count_audience(
            _store(request), session.principal, form.get("match", "all"), _conditions(form)
        )
    except DomainError as exc:
        return render(request, "_segment_count.html", count=None, error=exc.message)
    return render(request, "_segment_count.html", count=audience_count, error=None)


@router.post("/segments")
async def segment_create(request: Request, session: Marketer) -> Response:
    form = dict(await request.form())
    if not check_csrf(session, str(form.get("csrf", ""))):
        return await _segments(request, session, form, "The form expired; save it again.", 403)
    try:
        made = await segments.create_segment(
            _store(request),
            session.principal,
            form.get("name", ""),
            form.get("match", "all"),
            _conditions(form),
        )
    except DomainError as exc:
        return await _segments(request, session, form, exc.message, 400)
    await record_change(request, session, "segments.create", made.sid, tuple(form))
    return RedirectResponse("/segments", status_code=303)


async def _campaign(request: Request, session: WebSession, sid: str) -> dict[str, Any]:
    store = _store(request)
    campaign = await service.get_campaign(store, session.principal, sid)
    messages = await service.campaign_messages(store, session.principal, sid)
    return {"campaign": campaign, "messages": messages, "preview": None, "error": None}


async def _builder(
    request: Request,
    session: WebSession,
    form: dict[str, Any],
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    store = _store(request)
    senders = await activity.senders(store, session.principal)
    listed = await segments.list_segments(store, session.principal, page_size=200)
    form = {
        "name": "",
        "sender": senders[0] if senders else "",
        "segment": listed.segments[0].sid if listed.segments else "",
        "channel": "auto",
        "text": 'Hi {{ first_name | default: "there" }}! ',
        "when": "now",
        "send_at": "",
        "local_send_time": "10:00",
        "budget": "",
        **form,
    }
    return render(
        request,
        "campaign_new.html",
        status_code=status_code,
        session=session,
        senders=senders,
        segments=listed.segments,
        form=form,
        error=error,
    )


async def _segments(
    request: Request,
    session: WebSession,
    form: dict[str, Any],
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    listed = await segments.list_segments(_store(request), session.principal, page_size=200)
    fields = [*FIELDS, "attributes.NAME"]
    ops = {name: sorted(OPS[kind]) for name, kind in FIELDS.items()}
    ops["attributes.NAME"] = sorted(OPS[Kind.SEALED])
    return render(
        request,
        "segments.html",
        status_code=status_code,
        session=session,
        segments=listed.segments,
        form=form,
        fields=fields,
        all_ops=sorted({op for kind_ops in OPS.values() for op in kind_ops}),
        ops=ops,
        rows=range(CONDITION_ROWS),
        error=error,
    )


def _body(form: dict[str, Any]) -> dict[str, Any]:
    """The builder's form as the API's JSON body."""
    body: dict[str, Any] = {
        "name": form.get("name", ""),
        "from": form.get("sender", ""),
        "segment": form.get("segment") or None,
        "channel": form.get("channel", "auto"),
        "content": {"text": form.get("text", "")},
    }
    when = form.get("when", "now")
    if when == "at" and form.get("send_at"):
        body["send_at"] = f"{form['send_at']}:00+00:00"
    elif when == "local":
        body["local_send_time"] = form.get("local_send_time", "")
    if str(form.get("budget", "")).strip():
        body["budget"] = str(form["budget"]).strip()
    return body


def _conditions(form: dict[str, Any]) -> list[dict[str, Any]]:
    conditions = []
    for n in range(CONDITION_ROWS):
        field = str(form.get(f"field{n}", "")).strip()
        if not field:
            continue
        if field == "attributes.NAME":
            field = f"attributes.{str(form.get(f'attribute{n}', '')).strip()}"
        raw = str(form.get(f"value{n}", ""))
        conditions.append({"field": field, "op": form.get(f"op{n}", ""), "value": typed_value(raw)})
    return conditions


def _store(request: Request):
    return request.app.state.runtime.store
