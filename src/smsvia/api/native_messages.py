"""The native JSON API: POST /v1/messages (RCS rich content with SMS fallback) and
GET /v1/messages/{sid}, both answering the Twilio resource plus `timeline` and `content`."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from smsvia.api.auth import Reader, Sender
from smsvia.api.twilio_messages import message_resource
from smsvia.services import message_views
from smsvia.services import messages as service

router = APIRouter(prefix="/v1", tags=["Native messages"])


class NewMessage(BaseModel):
    """A message to send. Give one of `text`, `media_url`, `rich_card` or `carousel`."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    to: str = Field(examples=["+14155550100"])
    from_: str = Field(alias="from", examples=["+15005550006"])
    channel: Literal["auto", "rcs", "sms"] = "auto"
    text: str | None = None
    media_url: str | None = None
    rich_card: dict[str, Any] | None = Field(
        None, description="title, description, media_url, suggestions (at most 4)"
    )
    carousel: list[dict[str, Any]] | None = Field(None, description="2 to 10 cards")
    suggestions: list[dict[str, Any]] | None = Field(
        None,
        description='At most 11: {"reply": {"text", "postback_data"}}, '
        '{"open_url": {"text", "url"}}, {"dial": {"text", "phone_number"}}, '
        '{"share_location": {"text"}}, {"calendar": {"text", "title", "start", "end"}}',
    )
    fallback_after_seconds: int | None = Field(
        None, description="How long RCS may go undelivered before SMS (default: the account's)"
    )
    status_callback: str | None = None
    category: Literal["transactional", "marketing"] | None = None


@router.post("/messages", status_code=201)
async def create_message(body: NewMessage, request: Request, caller: Sender) -> dict[str, Any]:
    runtime = request.app.state.runtime
    content = body.model_dump(
        include={"text", "media_url", "rich_card", "carousel", "suggestions"}, exclude_none=True
    )
    view = await service.send_rich_message(
        runtime.store,
        caller,
        service.RichRequest(
            to=body.to,
            sender=body.from_,
            content=content,
            channel=body.channel,
            fallback_after_seconds=body.fallback_after_seconds,
            status_callback=body.status_callback,
            category=body.category,
        ),
        price_book=runtime.price_book,
        public_url=runtime.settings.public_url,
        default_region=runtime.settings.default_region,
        intake=runtime.intake,
        allow_private_urls=runtime.settings.allow_private_urls,
    )
    return native_resource(view)


@router.get("/messages/{sid}")
async def fetch_message(sid: str, request: Request, caller: Reader) -> dict[str, Any]:
    view = await message_views.get_message(
        request.app.state.runtime.store, caller, sid, with_timeline=True
    )
    return native_resource(view)


def native_resource(view: message_views.MessageView) -> dict[str, Any]:
    return {
        **message_resource(view),
        "category": view.category,
        "content": view.content,
        "timeline": [
            {"at": entry.at.isoformat(), "event": entry.event, "detail": entry.detail}
            for entry in view.timeline
        ],
    }
