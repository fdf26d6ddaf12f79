"""The Jinja2 environment every page shares, with its filters."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from fastapi.templating import Jinja2Templates

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


templates.env.filters["when"] = _when
templates.env.filters["money"] = _money
