"""HTTP Basic authentication with an Account SID + Auth Token or an API key SID + secret,
and each credential's rate limit (429, code 20429, before anything is accepted)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from smsvia.api.audit_trail import act_as
from smsvia.domain.errors import AuthenticationFailed, Forbidden, NotFound, TooManyRequests
from smsvia.services.accounts import Principal


async def principal(request: Request) -> Principal:
    """The caller, or 401 with code 20003."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise AuthenticationFailed("Authenticate with HTTP Basic: Account SID and Auth Token")
    try:
        username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthenticationFailed("Malformed Basic credentials") from exc
    runtime = request.app.state.runtime
    who: Principal = await runtime.authenticator.authenticate(username, password)
    if who.rate_limit:
        wait = await runtime.gate.admit(f"api:{who.via}", who.rate_limit, who.rate_limit)
        if wait:
            raise TooManyRequests(
                f"Too many requests: {who.via} may make {who.rate_limit:g} a second",
                retry_after=wait,
            )
    act_as(request, who.account_id, who.via)
    return who


def same_account(caller: Principal, account_sid: str) -> None:
    """Another account's URL answers as if it did not exist."""
    if caller.account_sid != account_sid:
        raise NotFound(f"The requested resource /Accounts/{account_sid} was not found")


Caller = Annotated[Principal, Depends(principal)]


def _scoped(scope: str):
    async def caller(who: Caller) -> Principal:
        """The caller, or 403 (20403) when its key is restricted to other scopes."""
        if not who.may(scope):
            raise Forbidden(f"This API key may not do this: it needs the {scope!r} scope")
        return who

    return caller


# The caller as each kind of operation needs it (services/keys.py SCOPES).
Sender = Annotated[Principal, Depends(_scoped("messages:send"))]
Reader = Annotated[Principal, Depends(_scoped("messages:read"))]
ContactsCaller = Annotated[Principal, Depends(_scoped("contacts"))]
CampaignsCaller = Annotated[Principal, Depends(_scoped("campaigns"))]
Admin = Annotated[Principal, Depends(_scoped("admin"))]
