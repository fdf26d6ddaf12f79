"""An RBM platform simulator: the REST surface smsvia's RCS channel uses, and signed events.

What happens to a message depends on the recipient's number, checked in this order:

* ending 77: RCS-capable but offline; messages are accepted and never delivered
* ending 55: capable, but sending answers 500
* last digit even: capable; DELIVERED after `delivered_after`, READ after `read_after`
* last digit odd: not RCS-capable; 404 on the capability check and on send

Events go to `webhook_url` as RBM pushes them (Pub/Sub style, `X-Goog-Signature` = base64
HMAC-SHA512 of the event JSON keyed with the client token) and are retried until answered 200.
Revoking a message that is not delivered yet succeeds and it is never delivered; revoking a
delivered one answers 404, as RBM does. Every delivery is recorded, so tests count them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from smsvia.channels.http import Unanswered, Unreached
from smsvia.domain.signature import rbm_signature
from smsvia.sim.embedded import HttpSimulator

log = logging.getLogger(__name__)

DEFAULT_CLIENT_TOKEN = "smsvia-sim-client-token"


@dataclass
class RbmBehaviour:
    client_token: str = DEFAULT_CLIENT_TOKEN
    webhook_url: str | None = None
    delivered_after: float = 0.05  # seconds
    read_after: float = 0.2  # seconds after sending
    event_retry: float = 0.2  # first retry of an unanswered event, doubling
    answer_after: float = 0.0  # seconds a send waits before answering (its events do not)


@dataclass
class SentMessage:
    msisdn: str
    message_id: str
    agent_id: str
    content: dict[str, Any]
    ttl: str | None
    state: str = "pending"  # pending | delivered | revoked


@dataclass
class RbmRecords:
    delivered: list[SentMessage] = field(default_factory=list)
    revoked: list[SentMessage] = field(default_factory=list)
    sends: int = 0
    capability_checks: int = 0
    events_sent: int = 0
    authorizations: list[str] = field(default_factory=list)  # Authorization headers seen


def recipient_kind(msisdn: str) -> str:
    """offline | error | capable | not_capable, by the rules in the module doc."""
    digits = msisdn.lstrip("+")
    if digits.endswith("77"):
        return "offline"
    if digits.endswith("55"):
        return "error"
    return "capable" if digits and int(digits[-1]) % 2 == 0 else "not_capable"


class RbmSimulator(HttpSimulator):
    def __init__(self, behaviour: RbmBehaviour | None = None) -> None:
        super().__init__()
        self.behaviour = behaviour or RbmBehaviour()
        self.records = RbmRecords()
        self._messages: dict[tuple[str, str], SentMessage] = {}
        self.app = self._build_app()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def user_says(
        self, msisdn: str, text: str, *, postback_data: str | None = None, agent_id: str = "sim"
    ) -> None:
        """A user's reply (or, with `postback_data`, a tap on a suggestion) as an event."""
        event: dict[str, Any] = {
            "senderPhoneNumber": msisdn,
            "messageId": f"MxUser{secrets.token_hex(8)}",
            "sendTime": _now(),
            "agentId": agent_id,
        }
        if postback_data is None:
            event["text"] = text
        else:
            event["suggestionResponse"] = {
                "postbackData": postback_data,
                "text": text,
                "type": "REPLY",
            }
        await self._push(event)

    # -- HTTP surface ------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="smsvia RBM simulator", docs_url=None, redoc_url=None)

        @app.middleware("http")
        async def note_authorization(request: Request, call_next):
            if "authorization" in request.headers:
                self.records.authorizations.append(request.headers["authorization"])
            return await call_next(request)

        @app.get("/v1/phones/{msisdn}/capabilities")
        async def capabilities(msisdn: str) -> JSONResponse:
            self.records.capability_checks += 1
            if recipient_kind(msisdn) == "not_capable":
                return _error(404, "NOT_FOUND", "Requested entity was not found.")
            features = [
                "RICHCARD_STANDALONE",
                "RICHCARD_CAROUSEL",
                "ACTION_OPEN_URL",
                "ACTION_DIAL",
            ]
            return JSONResponse({"features": features})

        @app.post("/v1/phones/{msisdn}/agentMessages")
        async def send(msisdn: str, request: Request) -> JSONResponse:
            self.records.sends += 1
            message_id = request.query_params.get("messageId", "")
            agent_id = request.query_params.get("agentId", "")
            try:
                body = await request.json()
                content = body["contentMessage"]
            except (ValueError, KeyError, TypeError):
                return _error(400, "INVALID_ARGUMENT", "contentMessage is required")
            if not message_id:
                return _error(400, "INVALID_ARGUMENT", "messageId is required")
            kind = recipient_kind(msisdn)
            if kind == "not_capable":
                return _error(404, "NOT_FOUND", "Requested entity was not found.")
            if kind == "error":
                return _error(500, "INTERNAL", "Internal error encountered.")
            key = (msisdn, message_id)
            if key in self._messages:
                return _error(409, "ALREADY_EXISTS", "Message with this ID already exists.")
            sent = SentMessage(msisdn, message_id, agent_id, content, body.get("ttl"))
            self._messages[key] = sent
            if kind == "capable":
                self._later(self.behaviour.delivered_after, lambda: self._deliver(sent))
            if self.behaviour.answer_after:
                await asyncio.sleep(self.behaviour.answer_after)
            return JSONResponse(
                {
                    "name": f"phones/{msisdn}/agentMessages/{message_id}",
                    "sendTime": _now(),
                    "contentMessage": content,
                }
            )

        @app.delete("/v1/phones/{msisdn}/agentMessages/{message_id}")
        async def revoke(msisdn: str, message_id: str) -> JSONResponse:
            sent = self._messages.get((msisdn, message_id))
            if sent is None or sent.state != "pending":
                return _error(404, "NOT_FOUND", "Requested entity was not found.")
            sent.state = "revoked"
            self.records.revoked.append(sent)
            return JSONResponse({})

        return app

    # -- delivery and events -----------------------------------------------------------------

    async def _deliver(self, sent: SentMessage) -> None:
        # Checked and changed with no await in between: a revoke either came first (and
        # the message is never delivered) or comes after (and answers 404).
        if sent.state != "pending":
            return
        sent.state = "delivered"
        self.records.delivered.append(sent)
        later = max(self.behaviour.read_after - self.behaviour.delivered_after, 0)
        self._later(later, lambda: self._push(self._status_event(sent, "READ")))
        await self._push(self._status_event(sent, "DELIVERED"))

    def _status_event(self, sent: SentMessage, event_type: str) -> dict[str, Any]:
        return {
            "senderPhoneNumber": sent.msisdn,
            "eventType": event_type,
            "eventId": f"MxEvt{secrets.token_hex(8)}",
            "messageId": sent.message_id,
            "sendTime": _now(),
            "agentId": sent.agent_id,
        }

    async def _push(self, event: dict[str, Any]) -> None:
        """POST the event until the webhook answers 200 (RBM keeps trying for days)."""
        url = self.behaviour.webhook_url
        if url is None or self._http is None:
            return
        data = json.dumps(event).encode()
        push = {
            "message": {
                "data": base64.b64encode(data).decode(),
                "messageId": event.get("eventId") or event["messageId"],
                "publishTime": _now(),
            },
            "subscription": "projects/smsvia-sim/subscriptions/rbm-events",
        }
        headers = {"X-Goog-Signature": rbm_signature(self.behaviour.client_token, data)}
        delay = self.behaviour.event_retry
        for _ in range(12):
            try:
                answer = await self._http.request("POST", url, json=push, headers=headers)
                if answer.status == 200:
                    self.records.events_sent += 1
                    return
                log.info("RBM simulator: webhook answered %s; retrying", answer.status)
            except (Unreached, Unanswered) as exc:
                log.info("RBM simulator: webhook unreachable (%s); retrying", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        log.warning("RBM simulator: gave up on event %s", push["message"]["messageId"])


def _error(status: int, reason: str, message: str) -> JSONResponse:
    # Google APIs' error shape.
    return JSONResponse(
        {"error": {"code": status, "message": message, "status": reason}}, status_code=status
    )


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
