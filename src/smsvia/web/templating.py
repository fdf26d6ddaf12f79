"""The Jinja2 environment every page shares, with its filters."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from smsvia.domain.links import url_spans

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _money(amount: Decimal | str | None, currency: str = "USD") -> str:
    if amount is None:
        return ""
    return f"{abs(Decimal(amount)):.4f} {currency}"


def _linked(text: str) -> Markup:
    """The text, escaped, with its http(s) URLs as links that open in a new tab."""
    pieces, last = [], 0
    for start, end in url_spans(text):
        url = escape(text[start:end])
        pieces += [escape(text[last:start]), Markup(f'<a href="{url}" target="_blank">{url}</a>')]
        last = end
    return Markup("").join([*pieces, escape(text[last:])])


templates.env.filters["when"] = _when
templates.env.filters["linked"] = _linked
templates.env.filters["money"] = _money
