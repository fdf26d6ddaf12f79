"""X-Twilio-Signature: HMAC-SHA1 with the auth token over the URL and the sorted parameters."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping


def twilio_signature(url: str, params: Mapping[str, str], auth_token: str) -> str:
    """What Twilio's RequestValidator expects for a form POST of `params` to `url`."""
    data = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def is_valid_twilio_signature(
    url: str, params: Mapping[str, str], auth_token: str, signature: str
) -> bool:
    expected = twilio_signature(url, params, auth_token)
    return hmac.compare_digest(expected.encode(), signature.encode())
