"""What an SMS says when the message asked for more than SMS can carry."""

from __future__ import annotations

from collections.abc import Sequence


def sms_text(body: str, media_urls: Sequence[str] = ()) -> str:
    """The body, then one line per media link: SMPP carries no pictures."""
    lines = [body] if body else []
    lines.extend(media_urls)
    return "\n".join(lines)
