"""No NUL in a URL or in a form or JSON body: PostgreSQL text cannot hold one, so a `%00`
(or a JSON `\\u0000`) in a path, a query or a field would fail deep in a query (a 500, on
PostgreSQL only). It is refused at the door with a 400 instead, the same on both databases,
as Django refuses it in every form field.

Bodies are read here only for the two text encodings and multipart forms (whose text fields
are looked at, never their files), and only up to the largest body the app takes; a larger
one goes on untouched, to be refused by what reads it. Other content types (a media
upload's bytes) go straight through."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smsvia.api.errors import error_body

READ_AT_MOST = 1024 * 1024  # Starlette's limit on a form field: more is refused anyway
_FORM, _JSON = "application/x-www-form-urlencoded", "application/json"
_MULTIPART = "multipart/form-data"


def _refusal(where: str) -> bytes:
    text = f"A NUL character is not allowed in the {where}"
    return json.dumps(error_body(20001, text, 400)).encode()


_IN_URL, _IN_BODY = _refusal("URL"), _refusal("request body")


class RefuseNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _url_has_nul(scope):
            await _refuse(send, _IN_URL)
            return
        media_type = _media_type(scope)
        if media_type not in (_FORM, _JSON, _MULTIPART):
            await self.app(scope, receive, send)
            return
        read, body, whole = await _read_ahead(receive)
        if media_type == _MULTIPART:
            nul = whole and await _multipart_has_nul(scope, body)
        else:
            nul = whole and _body_has_nul(media_type, body)
        if nul:
            await _refuse(send, _IN_BODY)
            return
        await self.app(scope, _replaying(read, receive), send)


async def _read_ahead(receive: Receive) -> tuple[list[Message], bytes, bool]:
    """The messages read, the body they carry, and whether that is the whole body."""
    read: list[Message] = []
    size = 0
    while size <= READ_AT_MOST:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":  # the client went away
            break
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            body = b"".join(m.get("body", b"") for m in read)
            return read, body, True
    return read, b"", False


def _replaying(read: list[Message], receive: Receive) -> Receive:
    pending = list(read)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _refuse(send: Send, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _url_has_nul(scope: Scope) -> bool:
    query = scope.get("query_string", b"")
    return "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query


def _media_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.decode("latin-1").partition(";")[0].strip().lower()
    return ""


def _body_has_nul(media_type: str, body: bytes) -> bool:
    if media_type == _FORM:  # every %00 reads as a NUL
        return b"%00" in body or b"\x00" in body
    if b"\\u0000" not in body:  # the one way JSON writes a NUL in a string
        return False
    try:  # `\\u0000` is a backslash and then text: look at what the strings hold
        return _holds_nul(json.loads(body))
    except ValueError:
        return False  # not JSON: what reads it says so


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


async def _multipart_has_nul(scope: Scope, body: bytes) -> bool:
    """A NUL in a text field's name or value, read as Starlette will read it for the app (a
    file's bytes may hold anything)."""

    async def whole() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        form = await MultiPartParser(Headers(scope=scope), whole()).parse()
    except MultiPartException:
        return False  # not a form Starlette reads: what reads it says so
    try:
        return any(
            "\x00" in name or (isinstance(value, str) and "\x00" in value)
            for name, value in form.multi_items()
        )
    finally:
        await form.close()
