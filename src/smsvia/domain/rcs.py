"""RCS rich content: what a message may carry, RBM's limits, the RBM JSON for it, and the
plain SMS it becomes when the phone cannot take RCS.

Input is the native API's shape (`text`, `media_url`, `rich_card`, `carousel`,
`suggestions`), as plain JSON values; every refusal names the field, e.g.
`carousel[1].suggestions[0].text`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from smsvia.domain.errors import DomainError

# RBM's limits (RCS Business Messaging API reference, AgentContentMessage and friends).
MAX_TEXT = 3072  # characters of a text message
MAX_SUGGESTIONS = 11  # suggested replies and actions on one message
MAX_CARD_SUGGESTIONS = 4  # on one rich card
MAX_LABEL = 25  # characters of a suggestion's text
MAX_POSTBACK = 2048  # characters of postback data
MAX_TITLE_BYTES = 200  # a card title, in UTF-8 bytes
MAX_DESCRIPTION_BYTES = 2000  # a card description, in UTF-8 bytes
MIN_CAROUSEL, MAX_CAROUSEL = 2, 10  # cards in a carousel
MAX_CALENDAR_TITLE = 100
MAX_CALENDAR_DESCRIPTION = 500
MAX_PAYLOAD_BYTES = 250_000  # the whole agent message as JSON
BASIC_TEXT = 160  # a text-only message up to this long is billed as an RBM "basic message"


class InvalidRichContent(DomainError):
    """Rich content RBM would refuse; `field` names the offending part."""

    code = 100030


class Action(StrEnum):
    REPLY = "reply"
    OPEN_URL = "open_url"
    DIAL = "dial"
    SHARE_LOCATION = "share_location"
    CALENDAR = "calendar"


@dataclass(frozen=True, slots=True)
class Suggestion:
    action: Action
    text: str
    postback_data: str
    url: str | None = None  # open_url
    phone_number: str | None = None  # dial
    title: str | None = None  # calendar
    description: str | None = None  # calendar
    start: datetime | None = None  # calendar
    end: datetime | None = None  # calendar


@dataclass(frozen=True, slots=True)
class Card:
    title: str | None = None
    description: str | None = None
    media_url: str | None = None
    suggestions: tuple[Suggestion, ...] = ()


@dataclass(frozen=True, slots=True)
class RichContent:
    """Exactly one of text, media, a card or a carousel, plus suggestions."""

    text: str | None = None
    media_url: str | None = None
    card: Card | None = None
    carousel: tuple[Card, ...] = ()
    suggestions: tuple[Suggestion, ...] = field(default=())

    @property
    def is_basic(self) -> bool:
        """Plain text up to 160 characters: RBM bills it as a basic message."""
        return (
            self.text is not None
            and len(self.text) <= BASIC_TEXT
            and not self.suggestions
            and self.media_url is None
        )

    @property
    def media_urls(self) -> tuple[str, ...]:
        """Every picture or video the message shows, in order."""
        cards = (self.card,) if self.card else self.carousel
        urls = [self.media_url] + [card.media_url for card in cards]
        return tuple(url for url in urls if url)

    @property
    def title(self) -> str | None:
        """A headline for link previews: the card's, or the first carousel card's."""
        cards = (self.card,) if self.card else self.carousel
        return next((card.title for card in cards if card.title), None)

    def to_rbm(self) -> dict[str, Any]:
        """The RBM `contentMessage`."""
        content: dict[str, Any] = {}
        if self.text is not None:
            content["text"] = self.text
        elif self.media_url is not None:
            content["contentInfo"] = {"fileUrl": self.media_url, "forceRefresh": False}
        elif self.card is not None:
            content["richCard"] = {
                "standaloneCard": {
                    "cardOrientation": "VERTICAL",
                    "cardContent": _rbm_card(self.card),
                }
            }
        else:
            content["richCard"] = {
                "carouselCard": {
                    "cardWidth": "MEDIUM",
                    "cardContents": [_rbm_card(card) for card in self.carousel],
                }
            }
        if self.suggestions:
            content["suggestions"] = [_rbm_suggestion(s) for s in self.suggestions]
        return content

    def to_json(self) -> dict[str, Any]:
        """The native API's shape again (what is stored); `parse_rich_content` reads it."""
        out: dict[str, Any] = {}
        if self.text is not None:
            out["text"] = self.text
        if self.media_url is not None:
            out["media_url"] = self.media_url
        if self.card is not None:
            out["rich_card"] = _card_json(self.card)
        if self.carousel:
            out["carousel"] = [_card_json(card) for card in self.carousel]
        if self.suggestions:
            out["suggestions"] = [_suggestion_json(s) for s in self.suggestions]
        return out


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


# -- RBM JSON and the native shape -----------------------------------------------------------


def _rbm_card(card: Card) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if card.title:
        content["title"] = card.title
    if card.description:
        content["description"] = card.description
    if card.media_url:
        content["media"] = {
            "height": "MEDIUM",
            "contentInfo": {"fileUrl": card.media_url, "forceRefresh": False},
        }
    if card.suggestions:
        content["suggestions"] = [_rbm_suggestion(s) for s in card.suggestions]
    return content


def _rbm_suggestion(s: Suggestion) -> dict[str, Any]:
    if s.action == Action.REPLY:
        return {"reply": {"text": s.text, "postbackData": s.postback_data}}
    action: dict[str, Any] = {"text": s.text, "postbackData": s.postback_data}
    if s.action == Action.OPEN_URL:
        action["openUrlAction"] = {"url": s.url}
    elif s.action == Action.DIAL:
        action["dialAction"] = {"phoneNumber": s.phone_number}
    elif s.action == Action.SHARE_LOCATION:
        action["shareLocationAction"] = {}
    else:
        assert s.start is not None and s.end is not None
        action["createCalendarEventAction"] = {
            "title": s.title,
            "description": s.description or "",
            "startTime": _rfc3339(s.start),
            "endTime": _rfc3339(s.end),
        }
    return {"action": action}


def _card_json(card: Card) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("title", "description", "media_url"):
        if getattr(card, key):
            out[key] = getattr(card, key)
    if card.suggestions:
        out["suggestions"] = [_suggestion_json(s) for s in card.suggestions]
    return out


def _suggestion_json(s: Suggestion) -> dict[str, Any]:
    body: dict[str, Any] = {"text": s.text, "postback_data": s.postback_data}
    if s.url is not None:
        body["url"] = s.url
    if s.phone_number is not None:
        body["phone_number"] = s.phone_number
    if s.action == Action.CALENDAR:
        assert s.start is not None and s.end is not None
        body.update(title=s.title, start=s.start.isoformat(), end=s.end.isoformat())
        if s.description:
            body["description"] = s.description
    return {s.action.value: body}


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
