"""What an SMS (or an MMS) says when the message asked for more than it can carry."""

from __future__ import annotations

from collections.abc import Sequence

from smsvia.domain.rcs import Action, Card, RichContent, Suggestion


def sms_text(body: str, media_urls: Sequence[str] = ()) -> str:
    """The body, then one line per media link: SMPP carries no pictures."""
    lines = [body] if body else []
    lines.extend(media_urls)
    return "\n".join(lines)


def rich_sms_text(content: RichContent, preview_url: str | None = None) -> str:
    """What the SMS says instead of rich content: the text or title and description, the
    preview link for media, and one line per link action. Replies and location requests
    mean nothing in an SMS and are left out; repeated lines are written once."""
    lines: list[str] = []
    if content.text is not None:
        lines.append(content.text)
    if content.media_url is not None:
        lines.append(preview_url or content.media_url)
    if content.card is not None:
        lines.extend(_card_lines(content.card, preview_url or content.card.media_url))
    if content.carousel:
        lines.extend(line for card in content.carousel for line in _card_lines(card, None))
        if preview_url and any(card.media_url for card in content.carousel):
            lines.append(preview_url)
    lines.extend(line for s in content.suggestions if (line := _link_line(s)))
    return "\n".join(dict.fromkeys(line for line in lines if line))


def mms_text(content: RichContent) -> str:
    """The text an MMS carries beside the pictures of rich content: as the SMS, without
    the media links (the pictures themselves go)."""
    lines = [content.text or ""]
    cards = (content.card,) if content.card else content.carousel
    lines.extend(line for card in cards for line in _card_lines(card, None))
    lines.extend(line for s in content.suggestions if (line := _link_line(s)))
    return "\n".join(dict.fromkeys(line for line in lines if line))


def _card_lines(card: Card, media_link: str | None) -> Sequence[str]:
    lines = [card.title or "", card.description or ""]
    if card.media_url and media_link:
        lines.append(media_link)
    lines.extend(line for s in card.suggestions if (line := _link_line(s)))
    return lines


def _link_line(s: Suggestion) -> str | None:
    if s.action == Action.OPEN_URL:
        return f"{s.text}: {s.url}"
    if s.action == Action.DIAL:
        return f"{s.text}: {s.phone_number}"
    if s.action == Action.CALENDAR and s.start is not None:
        return f"{s.title}: {s.start:%Y-%m-%d %H:%M} {s.start:%Z}".rstrip()
    return None
