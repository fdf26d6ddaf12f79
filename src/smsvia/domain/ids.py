"""Twilio-style resource identifiers: a two-letter prefix and 32 hex digits."""

from __future__ import annotations

import re
import secrets

ACCOUNT = "AC"
API_KEY = "SK"
MESSAGE = "SM"
MEDIA_MESSAGE = "MM"
MEDIA = "ME"
CONTACT = "CO"
OPTIN_FORM = "OF"
ORDER = "OR"
USER = "US"

_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def new_secret() -> str:
    """An auth token or API key secret: 32 hex digits, as Twilio's."""
    return secrets.token_hex(16)


def is_sid(value: str, prefix: str | None = None) -> bool:
    return bool(_SID.match(value)) and (prefix is None or value.startswith(prefix))
