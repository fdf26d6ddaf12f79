"""Reading RCS rich content from the native API's shape (`text`, `media_url`, `rich_card`,
`carousel`, `suggestions`), as plain JSON values, within RBM's limits; every refusal names the
field, e.g. `carousel[1].suggestions[0].text`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from smsvia.domain.rcs import (
    MAX_CALENDAR_DESCRIPTION,
    MAX_CALENDAR_TITLE,
    MAX_CARD_SUGGESTIONS,
    MAX_CAROUSEL,
    MAX_DESCRIPTION_BYTES,
    MAX_LABEL,
    MAX_PAYLOAD_BYTES,
    MAX_POSTBACK,
    MAX_SUGGESTIONS,
    MAX_TEXT,
    MAX_TITLE_BYTES,
    MIN_CAROUSEL,
    Action,
    Card,
    InvalidRichContent,
    RichContent,
    Suggestion,
)


def parse_rich_content(payload: Mapping[str, Any]) -> RichContent:
    """Check native API content against RBM's limits; InvalidRichContent names the field."""
    given = [key for key in ("text", "media_url", "rich_card", "carousel") if payload.get(key)]
    if not given:
        raise InvalidRichContent("Give one of text, media_url, rich_card or carousel", field="text")
    if len(given) > 1:
        raise InvalidRichContent(
            f"Give only one of text, media_url, rich_card or carousel, not {' and '.join(given)}",
            field=given[1],
        )
    suggestions = _suggestions(payload.get("suggestions"), "suggestions", MAX_SUGGESTIONS)
    kind = given[0]
    if kind == "text":
        text = _string(payload["text"], "text")
        if len(text) > MAX_TEXT:
            raise InvalidRichContent(
                f"text is {len(text)} characters; RBM takes at most {MAX_TEXT}", field="text"
            )
        content = RichContent(text=text, suggestions=suggestions)
    elif kind == "media_url":
        content = RichContent(
            media_url=_url(payload["media_url"], "media_url"), suggestions=suggestions
        )
    elif kind == "rich_card":
        content = RichContent(
            card=_card(payload["rich_card"], "rich_card"), suggestions=suggestions
        )
    else:
        cards = payload["carousel"]
        if not isinstance(cards, list):
            raise InvalidRichContent("carousel must be a list of cards", field="carousel")
        if not MIN_CAROUSEL <= len(cards) <= MAX_CAROUSEL:
            raise InvalidRichContent(
                f"a carousel holds {MIN_CAROUSEL} to {MAX_CAROUSEL} cards, not {len(cards)}",
                field="carousel",
            )
        content = RichContent(
            carousel=tuple(_card(card, f"carousel[{i}]") for i, card in enumerate(cards)),
            suggestions=suggestions,
        )
    size = len(json.dumps(content.to_rbm(), ensure_ascii=False).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidRichContent(
            f"the message is {size:,} bytes as RBM JSON; RBM takes at most {MAX_PAYLOAD_BYTES:,}",
            field=kind,
        )
    return content


# -- parsing ---------------------------------------------------------------------------------


def _card(value: Any, where: str) -> Card:
    if not isinstance(value, Mapping):
        raise InvalidRichContent(f"{where} must be an object", field=where)
    title = _optional_string(value.get("title"), f"{where}.title")
    description = _optional_string(value.get("description"), f"{where}.description")
    media = value.get("media_url")
    if not (title or description or media):
        raise InvalidRichContent(
            f"{where} needs at least a title, a description or a media_url", field=where
        )
    _fits_bytes(title, MAX_TITLE_BYTES, f"{where}.title")
    _fits_bytes(description, MAX_DESCRIPTION_BYTES, f"{where}.description")
    return Card(
        title=title,
        description=description,
        media_url=_url(media, f"{where}.media_url") if media else None,
        suggestions=_suggestions(
            value.get("suggestions"), f"{where}.suggestions", MAX_CARD_SUGGESTIONS
        ),
    )


def _suggestions(value: Any, where: str, limit: int) -> tuple[Suggestion, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidRichContent(f"{where} must be a list", field=where)
    if len(value) > limit:
        raise InvalidRichContent(
            f"{where} has {len(value)} suggestions; RBM allows at most {limit} here", field=where
        )
    return tuple(_suggestion(item, f"{where}[{i}]") for i, item in enumerate(value))


def _suggestion(value: Any, where: str) -> Suggestion:
    if not isinstance(value, Mapping) or len(value) != 1:
        kinds = ", ".join(action.value for action in Action)
        raise InvalidRichContent(f"{where} must be an object with one of: {kinds}", field=where)
    ((kind, body),) = value.items()
    try:
        action = Action(kind)
    except ValueError:
        kinds = ", ".join(a.value for a in Action)
        raise InvalidRichContent(
            f"{where}: unknown suggestion '{kind}' (one of: {kinds})", field=where
        ) from None
    where = f"{where}.{kind}"
    if not isinstance(body, Mapping):
        raise InvalidRichContent(f"{where} must be an object", field=where)
    text = _string(body.get("text"), f"{where}.text")
    if len(text) > MAX_LABEL:
        raise InvalidRichContent(
            f"{where}.text is {len(text)} characters; a suggestion label takes at most {MAX_LABEL}",
            field=f"{where}.text",
        )
    postback = _optional_string(body.get("postback_data"), f"{where}.postback_data") or text
    if len(postback) > MAX_POSTBACK:
        raise InvalidRichContent(
            f"{where}.postback_data is over {MAX_POSTBACK} characters",
            field=f"{where}.postback_data",
        )
    suggestion = Suggestion(action, text, postback)
    if action == Action.OPEN_URL:
        return _with(suggestion, url=_url(body.get("url"), f"{where}.url"))
    if action == Action.DIAL:
        return _with(suggestion, phone_number=_phone(body.get("phone_number"), f"{where}"))
    if action == Action.CALENDAR:
        return _calendar(suggestion, body, where)
    return suggestion


def _calendar(suggestion: Suggestion, body: Mapping[str, Any], where: str) -> Suggestion:
    title = _string(body.get("title"), f"{where}.title")
    if len(title) > MAX_CALENDAR_TITLE:
        raise InvalidRichContent(
            f"{where}.title takes at most {MAX_CALENDAR_TITLE} characters", field=f"{where}.title"
        )
    description = _optional_string(body.get("description"), f"{where}.description")
    if description and len(description) > MAX_CALENDAR_DESCRIPTION:
        raise InvalidRichContent(
            f"{where}.description takes at most {MAX_CALENDAR_DESCRIPTION} characters",
            field=f"{where}.description",
        )
    start = _moment(body.get("start"), f"{where}.start")
    end = _moment(body.get("end"), f"{where}.end")
    if end <= start:
        raise InvalidRichContent(f"{where}.end must be after start", field=f"{where}.end")
    return _with(suggestion, title=title, description=description, start=start, end=end)


def _with(suggestion: Suggestion, **changes: Any) -> Suggestion:
    return replace(suggestion, **changes)


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRichContent(f"{where} is required and must be text", field=where)
    return value


def _optional_string(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRichContent(f"{where} must be text", field=where)
    return value


def _fits_bytes(value: str | None, limit: int, where: str) -> None:
    if value is not None and len(value.encode()) > limit:
        raise InvalidRichContent(
            f"{where} is {len(value.encode())} bytes in UTF-8; RBM takes at most {limit}",
            field=where,
        )


def _url(value: Any, where: str) -> str:
    url = _string(value, where)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRichContent(f"{where} must be an http(s) URL, not {url!r}", field=where)
    return url


def _phone(value: Any, where: str) -> str:
    number = _string(value, f"{where}.phone_number")
    digits = number[1:] if number.startswith("+") else ""
    if not (digits.isdigit() and 6 <= len(digits) <= 15):
        raise InvalidRichContent(
            f"{where}.phone_number must be in E.164 form (+ and digits), not {number!r}",
            field=f"{where}.phone_number",
        )
    return number


def _moment(value: Any, where: str) -> datetime:
    text = _string(value, where)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRichContent(
            f"{where} must be an ISO 8601 date and time, not {text!r}", field=where
        ) from None
    if moment.tzinfo is None:
        raise InvalidRichContent(f"{where} needs a time zone (Z or +hh:mm)", field=where)
    return moment
