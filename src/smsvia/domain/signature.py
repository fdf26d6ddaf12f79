"""Signatures on webhooks.

X-Twilio-Signature (ours, on status callbacks): HMAC-SHA1 with the auth token over the URL and
the sorted parameters. X-Goog-Signature (RBM's, on the events it pushes to us): HMAC-SHA512
with the agent's client token over the decoded event. X-Shopify-Hmac-Sha256 (Shopify's, on the
orders webhook): HMAC-SHA256 with the shop's secret over the raw body.
"""

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


def rbm_signature(client_token: str, data: bytes) -> str:
    """RBM's X-Goog-Signature of a pushed event: base64 HMAC-SHA512 of its decoded data."""
    digest = hmac.new(client_token.encode("utf-8"), data, hashlib.sha512).digest()
    return base64.b64encode(digest).decode("ascii")


def is_valid_rbm_signature(client_token: str, data: bytes, signature: str) -> bool:
    return hmac.compare_digest(rbm_signature(client_token, data).encode(), signature.encode())


def shopify_signature(secret: str, body: bytes) -> str:
    """Shopify's X-Shopify-Hmac-Sha256 of a webhook: base64 HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def is_valid_shopify_signature(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(shopify_signature(secret, body).encode(), signature.encode())
