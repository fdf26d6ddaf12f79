"""API keys (Twilio's SK… keys, restricted by scopes) and auth token rotation.

A key's secret is shown once and kept as an argon2 hash. Deleting a key or rotating a token
tells every process at once (store/credential_watch.py), so no login cache keeps the old
credentials working.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher

from smsvia.domain import ids
from smsvia.domain.errors import InvalidParameter, NotFound
from smsvia.services.accounts import Credentials
from smsvia.services.clock import Clock, utcnow
from smsvia.store import accounts as queries
from smsvia.store import users as user_queries
from smsvia.store.context import Store
from smsvia.store.models import ApiKey

# What a restricted key may be allowed; a key without scopes may do everything.
SCOPES = ("messages:send", "messages:read", "contacts", "campaigns", "admin")

_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class KeyView:
    sid: str
    friendly_name: str
    scopes: tuple[str, ...]
    date_created: datetime


@dataclass(frozen=True, slots=True)
class NewKey:
    key: KeyView
    secret: str  # shown once


async def create_key(
    store: Store,
    account_sid: str,
    friendly_name: str,
    scopes: Sequence[str] | None = None,
    *,
    clock: Clock = utcnow,
) -> NewKey:
    """A new API key for the account, with every scope unless `scopes` restricts it."""
    chosen = _checked(scopes)
    name = friendly_name.strip()[:255] or "API key"
    sid, secret = ids.new_sid(ids.API_KEY), ids.new_secret()
    now = clock()
    async with store.db.transaction() as session:
        account = await queries.account_by_sid(session, account_sid)
        if account is None:
            raise NotFound(f"Account {account_sid} not found")
        key = ApiKey(
            sid=sid,
            account_id=account.id,
            friendly_name=name,
            secret_hash=_hasher.hash(secret),
            date_created=now,
            scopes=list(chosen) if chosen != SCOPES else None,
        )
        session.add(key)
    return NewKey(_view(key), secret)


async def list_keys(store: Store, account_id: int) -> list[KeyView]:
    async with store.db.sessions() as session:
        return [_view(key) for key in await queries.api_keys_of(session, account_id)]


async def get_key(store: Store, account_id: int, sid: str) -> KeyView:
    async with store.db.sessions() as session:
        key = await queries.api_key_by_sid(session, sid)
    if key is None or key.account_id != account_id:
        raise NotFound(f"The requested resource Key {sid} was not found")
    return _view(key)


async def delete_key(store: Store, account_id: int, sid: str) -> None:
    """Revoke a key: the next request made with it is refused, in every process."""
    async with store.db.transaction() as session:
        key = await queries.api_key_by_sid(session, sid)
        if key is None or key.account_id != account_id:
            raise NotFound(f"The requested resource Key {sid} was not found")
        await session.delete(key)
        await store.credentials.changed(session)
    store.credentials.committed()


async def rotate_token(store: Store, account_sid: str, *, clock: Clock = utcnow) -> Credentials:
    """A new auth token for the account; the old one stops working at once."""
    token = ids.new_secret()
    async with store.db.transaction() as session:
        account = await queries.account_by_sid(session, account_sid)
        if account is None:
            raise NotFound(f"Account {account_sid} not found")
        account.auth_token = store.cipher.seal(token, f"account:{account.sid}")
        account.date_updated = clock()
        # Dashboard sessions opened with the old token end with it.
        await user_queries.revoke_sessions(
            session, clock(), account_id=account.id, without_user=True
        )
        await store.credentials.changed(session)
    store.credentials.committed()
    return Credentials(account_sid, token)


def _checked(scopes: Sequence[str] | None) -> tuple[str, ...]:
    if not scopes:
        return SCOPES
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise InvalidParameter(
            f"unknown scope {unknown[0]!r}; scopes are {', '.join(SCOPES)}",
            code=21100,
            field="scope",
        )
    return tuple(scope for scope in SCOPES if scope in scopes)


def _view(key: ApiKey) -> KeyView:
    return KeyView(key.sid, key.friendly_name, tuple(key.scopes or SCOPES), key.date_created)
