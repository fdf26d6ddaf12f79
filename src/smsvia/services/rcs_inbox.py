"""What the RBM platform pushes to our webhook: the verification handshake and events.

Every event is checked against the connector's client token (X-Goog-Signature), stored, and
answered at once; dispatch/rcs_events.py applies it later. RBM retries anything but a 200
for days, so a stored event is never lost and a repeated one is kept once.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from typing import Any

from smsvia.domain.errors import AuthenticationFailed, InvalidParameter, NotFound
from smsvia.domain.signature import is_valid_rbm_signature
from smsvia.services.clock import Clock, utcnow
from smsvia.services.senders import connector_password
from smsvia.store import rcs_events as queries
from smsvia.store import senders as sender_queries
from smsvia.store.context import Store


@dataclass(frozen=True, slots=True)
class Handshake:
    """The verification request: answer with `secret` as the plain-text body."""

    secret: str


@dataclass(frozen=True, slots=True)
class Stored:
    event_id: str
    new: bool  # False when RBM had pushed it before


async def receive(
    store: Store,
    connector_name: str,
    body: Any,
    signature: str | None,
    *,
    clock: Clock = utcnow,
) -> Handshake | Stored:
    # One transaction from the connector's look-up to the event's row: a push is answered
    # with four statements, and a refused one writes nothing.
    async with store.db.transaction() as session:
        connector = await sender_queries.connector_by_name(session, connector_name)
        if connector is None or connector.kind != "rcs":
            raise NotFound(f"No RCS connector named '{connector_name}'")
        client_token = await connector_password(store, connector)
        if not client_token:
            raise AuthenticationFailed(
                f"RCS connector '{connector_name}' has no client token: no event can be trusted"
            )
        if not isinstance(body, dict):
            raise InvalidParameter("the body must be a JSON object", code=21100)
        if "clientToken" in body and "secret" in body:
            if not hmac.compare_digest(str(body["clientToken"]), client_token):
                raise AuthenticationFailed("clientToken does not match this connector's")
            return Handshake(str(body["secret"]))
        data = _event_data(body)
        if not signature or not is_valid_rbm_signature(client_token, data, signature):
            raise AuthenticationFailed("X-Goog-Signature does not match the event")
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise InvalidParameter("message.data is not JSON", code=21100) from exc
        if not isinstance(event, dict):
            raise InvalidParameter("message.data is not a JSON object", code=21100)
        event_id = str(
            event.get("eventId") or event.get("messageId") or body["message"]["messageId"]
        )
        new = await queries.add_event(
            session,
            connector.id,
            event_id[:128],
            store.cipher.seal(data.decode(), "rcs_event.payload"),
            clock(),
        )
    return Stored(event_id, new)


def _event_data(body: dict[str, Any]) -> bytes:
    message = body.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("data"), str):
        raise InvalidParameter("expected a Pub/Sub push: {message: {data, messageId}}", code=21100)
    try:
        return base64.b64decode(message["data"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameter("message.data is not base64", code=21100) from exc
