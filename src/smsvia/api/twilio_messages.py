"""The Twilio-compatible Messages resource: /2010-04-01/Accounts/{AccountSid}/Messages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData

from smsvia.api.audit_trail import audited
from smsvia.api.auth import Reader, Sender, same_account
from smsvia.api.forms import form as read_form
from smsvia.api.openapi_extras import LIST_QUERY, SEND_FORM, UPDATE_FORM, form_body, query
from smsvia.domain.errors import InvalidParameter
from smsvia.domain.twilio_format import parse_datetime, price, rfc2822
from smsvia.services import message_views as views
from smsvia.services import messages as service

API_VERSION = "2010-04-01"
router = APIRouter(prefix=f"/{API_VERSION}/Accounts/{{account_sid}}")


@router.post(
    "/Messages.json",
    status_code=201,
    response_model=dict[str, Any],
    openapi_extra=form_body(SEND_FORM, required=("To",)),
)
async def create_message(account_sid: str, request: Request, caller: Sender) -> Response:
    same_account(caller, account_sid)
    form = await read_form(request)
    runtime = request.app.state.runtime
    send_at = form.get("SendAt")
    view = await service.send_message(
        runtime.store,
        caller,
        service.SendRequest(
            to=_text(form, "To"),
            sender=_text(form, "From"),
            body=_text(form, "Body"),
            media_urls=[str(url) for url in form.getlist("MediaUrl")],
            messaging_service_sid=_text(form, "MessagingServiceSid"),
            status_callback=_text(form, "StatusCallback"),
            validity_period=_integer(form, "ValidityPeriod", code=90007),
            send_at=parse_datetime(str(send_at), "SendAt", 35115) if send_at else None,
            schedule_type=_text(form, "ScheduleType"),
            smart_encoded=_boolean(form, "SmartEncoded"),
            category=_text(form, "Category"),
            shorten_urls=_boolean(form, "ShortenUrls"),
        ),
        price_book=runtime.price_book,
        default_region=runtime.settings.default_region,
        public_url=runtime.settings.public_url,
        intake=runtime.intake,
        allow_private_urls=runtime.settings.allow_private_urls,
    )
    # The hot path: plain JSON types already, so FastAPI's response validation is skipped.
    return JSONResponse(message_resource(view), status_code=201)


@router.get("/Messages.json", openapi_extra=query(LIST_QUERY))
async def list_messages(account_sid: str, request: Request, caller: Reader) -> dict[str, Any]:
    same_account(caller, account_sid)
    params = request.query_params
    page_size = _integer(params, "PageSize", code=20001) or 50
    page = _integer(params, "Page", code=20001) or 0
    on_or_after, before = _date_sent_range(params)
    result = await views.list_messages(
        request.app.state.runtime.store,
        caller,
        views.ListQuery(
            to=params.get("To") or None,
            sender=params.get("From") or None,
            sent_on_or_after=on_or_after,
            sent_before=before,
            page_size=page_size,
            page=page,
            page_token=params.get("PageToken") or None,
        ),
    )
    base = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"
    filters = {k: v for k, v in params.items() if k not in ("Page", "PageSize", "PageToken")}

    def page_uri(number: int, token: str | None = None) -> str:
        query = {**filters, "PageSize": page_size, "Page": number}
        if token:
            query["PageToken"] = token
        return f"{base}?{urlencode(query)}"

    start = page * page_size
    return {
        "messages": [message_resource(view) for view in result.messages],
        "end": start + max(len(result.messages) - 1, 0),
        "first_page_uri": page_uri(0),
        "next_page_uri": page_uri(page + 1, result.next_token) if result.next_token else None,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": page_uri(page - 1) if page > 0 else None,
        "start": start,
        "uri": page_uri(page, params.get("PageToken")),
    }


@router.get("/Messages/{sid}.json")
async def fetch_message(
    account_sid: str, sid: str, request: Request, caller: Reader
) -> dict[str, Any]:
    same_account(caller, account_sid)
    return message_resource(await views.get_message(request.app.state.runtime.store, caller, sid))


@router.post("/Messages/{sid}.json", openapi_extra=form_body(UPDATE_FORM))
@audited("messages.update")
async def update_message(
    account_sid: str, sid: str, request: Request, caller: Sender
) -> dict[str, Any]:
    """Status=canceled cancels a scheduled message; Body='' redacts a finished one."""
    same_account(caller, account_sid)
    form = await read_form(request)
    store = request.app.state.runtime.store
    status = form.get("Status")
    if status is not None:
        if status != "canceled":
            raise InvalidParameter("Status can only be set to 'canceled'", code=21100)
        return message_resource(await views.cancel_message(store, caller, sid))
    if form.get("Body") == "":
        return message_resource(await views.redact_message(store, caller, sid))
    raise InvalidParameter("Give Status=canceled or an empty Body", code=21100)


@router.delete("/Messages/{sid}.json", status_code=204)
@audited("messages.delete")
async def delete_message(account_sid: str, sid: str, request: Request, caller: Sender) -> Response:
    same_account(caller, account_sid)
    await views.delete_message(request.app.state.runtime.store, caller, sid)
    return Response(status_code=204)


def message_resource(view: views.MessageView) -> dict[str, Any]:
    """The Message resource exactly as Twilio writes it, plus smsvia's additive fields."""
    uri = f"/{API_VERSION}/Accounts/{view.account_sid}/Messages/{view.sid}.json"
    return {
        "account_sid": view.account_sid,
        "api_version": API_VERSION,
        "body": view.body,
        "date_created": rfc2822(view.date_created),
        "date_sent": rfc2822(view.date_sent),
        "date_updated": rfc2822(view.date_updated),
        "direction": view.direction,
        "error_code": view.error_code,
        "error_message": view.error_message,
        "from": view.sender,
        "messaging_service_sid": None,
        "num_media": str(view.num_media),
        "num_segments": str(view.num_segments),
        "price": price(view.price),
        "price_unit": view.price_unit,
        "sid": view.sid,
        "status": view.status,
        "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
        "to": view.to,
        "uri": uri,
        "channel": view.channel,
        "encoding": view.encoding,
        "status_label": view.status_label,
        "fallback_reason": view.fallback_reason,
    }


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return None if value is None else str(value)


def _integer(params: Any, name: str, *, code: int) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError as exc:
        raise InvalidParameter(f"{name} must be an integer", code=code, field=name) from exc


def _boolean(form: FormData, name: str) -> bool:
    return str(form.get(name, "")).lower() in ("true", "1", "yes")


def _date_sent_range(params: Any):
    """Twilio's DateSent (a day), DateSent> (on or after) and DateSent< (before)."""
    on_or_after = before = None
    if day := params.get("DateSent"):
        on_or_after = parse_datetime(day, "DateSent", 20001)
        before = on_or_after + timedelta(days=1)
    if value := params.get("DateSent>"):
        on_or_after = parse_datetime(value, "DateSent>", 20001)
    if value := params.get("DateSent<"):
        before = parse_datetime(value, "DateSent<", 20001)
    return on_or_after, before
