"""Rates as people write them: "10/s", "600/m", "5/h", or a bare number of requests a second."""

from __future__ import annotations

import math

from smsvia.domain.errors import InvalidParameter

_PER = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hour": 3600.0}


def parse_rate(text: str, *, field: str = "rate_limit") -> float:
    """Requests a second; 0 for "0", "off" or "none" (no limit)."""
    cleaned = text.strip().lower()
    if cleaned in ("off", "none"):
        return 0.0
    count, _, unit = cleaned.partition("/")
    try:
        value = float(count)
        per = _PER[unit.strip() or "s"]
    except (ValueError, KeyError):
        raise InvalidParameter(
            f"{field} must look like 10/s, 600/m or 5/h (or 0 for no limit), not {text!r}",
            code=21100,
            field=field,
        ) from None
    if not math.isfinite(value) or value < 0:
        raise InvalidParameter(f"{field} must be 0 or more", code=21100, field=field)
    return value / per
