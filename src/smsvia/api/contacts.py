"""The native contacts API and the consent ledger's export, with the same Basic auth.

POST /v1/contacts creates a contact or updates the one with the same number (201 or 200);
GET lists them newest first (filters phone, email, tag; page_size, page_token); GET,
PATCH and DELETE /v1/contacts/{sid}. GET /v1/consent (the whole account, or one `phone`) and
GET /v1/contacts/{sid}/consent export the ledger as JSON or, with format=csv, as CSV.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from smsvia.api.audit_trail import audited
from smsvia.api.auth import ContactsCaller
from smsvia.api.openapi_extras import CSV
from smsvia.domain.contacts import KNOWN, InvalidContact
from smsvia.services import consent as consent_service
from smsvia.services import contacts as service

router = APIRouter(prefix="/v1", tags=["Contacts and consent"])

Format = Literal["json", "csv"]


class GivenConsent(BaseModel):
    """Consent the shop collected elsewhere (a checkout box, a paper form), with evidence."""

    model_config = ConfigDict(extra="forbid")

    given_at: str = Field(examples=["2026-11-20T14:03:00Z"], description="ISO 8601")
    source: str = Field(examples=["checkout page, box ticked"], max_length=200)
    disclosure: str = Field("", description="The exact text the person agreed to")


class ContactFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str | None = Field(None, examples=["+14155550100"])
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    tags: list[str] | None = None
    attributes: dict[str, str | int | float | bool] | None = None
    time_zone: str | None = Field(None, examples=["America/Chicago"])
    locale: str | None = Field(None, examples=["en-US"])


class NewContact(ContactFields):
    phone: str = Field(examples=["+14155550100"])
    consent: GivenConsent | None = None


@router.post("/contacts", status_code=201)
@audited("contacts.create")
async def create_contact(
    body: NewContact, request: Request, response: Response, caller: ContactsCaller
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    values = _values(body)
    if body.consent is not None:
        values |= {
            "consent": "yes",
            "consent_date": body.consent.given_at,
            "consent_source": body.consent.source,
        }
    view, created = await service.save_contact(
        runtime.store,
        caller,
        values,
        disclosure=body.consent.disclosure if body.consent else "",
        evidence={
            "ip": request.client.host if request.client else "",
            "user_agent": request.headers.get("user-agent", ""),
        },
        default_region=runtime.settings.default_region,
    )
    if not created:
        response.status_code = 200
    return contact_resource(view)


@router.get("/contacts")
async def list_contacts(
    request: Request,
    caller: ContactsCaller,
    phone: str | None = None,
    email: str | None = None,
    tag: str | None = None,
    page_size: int = 50,
    page_token: str | None = None,
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    page = await service.list_contacts(
        runtime.store,
        caller,
        phone=phone,
        email=email,
        tag=tag,
        page_size=page_size,
        page_token=page_token,
        default_region=runtime.settings.default_region,
    )
    next_uri = None
    if page.next_token:
        query = request.url.include_query_params(page_token=page.next_token)
        next_uri = f"{query.path}?{query.query}"
    return {
        "contacts": [contact_resource(view) for view in page.contacts],
        "page_size": page_size,
        "next_page_uri": next_uri,
    }


@router.get("/contacts/{sid}")
async def fetch_contact(sid: str, request: Request, caller: ContactsCaller) -> dict[str, Any]:
    view = await service.get_contact(request.app.state.runtime.store, caller, sid)
    return contact_resource(view)


@router.patch("/contacts/{sid}")
@audited("contacts.update")
async def update_contact(
    sid: str, body: ContactFields, request: Request, caller: ContactsCaller
) -> dict[str, Any]:
    runtime = request.app.state.runtime
    view = await service.update_contact(
        runtime.store,
        caller,
        sid,
        _values(body),
        default_region=runtime.settings.default_region,
    )
    return contact_resource(view)


@router.delete("/contacts/{sid}", status_code=204)
@audited("contacts.delete")
async def delete_contact(sid: str, request: Request, caller: ContactsCaller) -> Response:
    await service.delete_contact(request.app.state.runtime.store, caller, sid)
    return Response(status_code=204)


@router.get("/contacts/{sid}/consent", response_model=None, responses=CSV)
async def contact_consent(
    sid: str, request: Request, caller: ContactsCaller, format: Format = "json"
) -> dict[str, Any] | Response:
    store = request.app.state.runtime.store
    contact = await service.get_contact(store, caller, sid)
    return await _export(request, caller, contact.phone, format)


@router.get("/consent", response_model=None, responses=CSV)
async def account_consent(
    request: Request, caller: ContactsCaller, phone: str | None = None, format: Format = "json"
) -> dict[str, Any] | Response:
    """The account's consent ledger (or one number's entries), oldest first, with whether
    the whole hash chain verified at the moment of export."""
    if phone is not None:
        phone = service.normalize_phone(phone, request.app.state.runtime.settings.default_region)
    return await _export(request, caller, phone, format)


async def _export(
    request: Request, caller: ContactsCaller, phone: str | None, format: Format
) -> dict[str, Any] | Response:
    store = request.app.state.runtime.store
    exported = await consent_service.export(store, caller.account_id, caller.account_sid, phone)
    now = datetime.now(UTC)
    if format == "json":
        return exported.as_json(now)
    name = f"consent-{caller.account_sid}-{now:%Y%m%dT%H%M%SZ}.csv"
    return Response(
        exported.as_csv(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Consent-Chain-Intact": str(exported.chain_intact).lower(),
        },
    )


def _values(body: ContactFields) -> dict[str, str | None]:
    """The body as the flat values contacts are parsed from (the CSV import's shape)."""
    values: dict[str, str | None] = {
        key: value
        for key, value in body.model_dump(
            include={"phone", "email", "first_name", "last_name", "time_zone", "locale"}
        ).items()
        if value is not None
    }
    if body.tags is not None:
        if any("," in tag or ";" in tag or "|" in tag for tag in body.tags):
            raise InvalidContact("a tag may not contain , ; or |", field="tags")
        values["tags"] = ",".join(body.tags)
    for key, value in (body.attributes or {}).items():
        if key in KNOWN or not key:
            raise InvalidContact(
                f"attributes.{key or '(empty)'}: use the field itself, not an attribute",
                field=f"attributes.{key}",
            )
        values[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return values


def contact_resource(view: service.ContactView) -> dict[str, Any]:
    return {
        "sid": view.sid,
        "phone": view.phone,
        "email": view.email,
        "first_name": view.first_name,
        "last_name": view.last_name,
        "tags": view.tags,
        "attributes": view.attributes,
        "time_zone": view.time_zone,
        "locale": view.locale,
        "consent": view.consent,
        "marketing_allowed": view.marketing,
        "date_created": view.date_created.isoformat(),
        "date_updated": view.date_updated.isoformat(),
        "uri": f"/v1/contacts/{view.sid}",
    }
