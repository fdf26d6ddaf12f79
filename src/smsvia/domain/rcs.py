"""RCS rich content: what a message may carry, RBM's limits, and the RBM JSON for it.

It is read from the native API's shape by domain/rcs_input.py; the plain SMS it becomes when
the phone cannot take RCS is domain/rendering.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

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
