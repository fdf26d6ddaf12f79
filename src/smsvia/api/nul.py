"""No NUL in a URL: PostgreSQL text cannot hold one, so a path or query with `%00` in it
would fail deep in a query (a 500). It is refused at the door with a 400 instead."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from smsvia.api.errors import error_body

_BODY = json.dumps(error_body(20001, "A NUL character is not allowed in the URL", 400)).encode()


class RefuseNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_nul(scope):
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_BODY)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _BODY})
            return
        await self.app(scope, receive, send)


def _has_nul(scope: Scope) -> bool:
    query = scope.get("query_string", b"")
    return "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query
