"""Page tokens: where the next page of a newest-first listing starts (the last id seen),
opaque to callers as Twilio's PageToken is."""

from __future__ import annotations

import base64

from smsvia.domain.errors import InvalidParameter


def encode_token(last_id: int) -> str:
    return "PA" + base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_token(token: str, field: str = "PageToken") -> int:
    try:
        raw = token.removeprefix("PA")
        return int(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameter(f"{field} '{token}' is not valid", code=20001, field=field) from exc
