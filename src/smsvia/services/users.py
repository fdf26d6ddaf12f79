"""Dashboard users, roles and sign-in sessions that can be revoked at once.

Roles: `owner` (everything, users included), `marketer` (sends, campaigns, segments,
contacts) and `viewer` (reads). Signing in with the account's own SID and auth token is
signing in as its owner. A session lasts 12 hours unless it is revoked first: by signing
out, by an owner ("sign out everywhere", removing the user), by a new password, or — for
sessions made with the auth token — by rotating the token.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from smsvia.domain import ids
from smsvia.domain.errors import AuthenticationFailed, Conflict, InvalidParameter, NotFound
from smsvia.services.accounts import Principal
from smsvia.services.clock import Clock, utcnow
from smsvia.store import accounts as account_queries
from smsvia.store import users as queries
from smsvia.store.context import Store
from smsvia.store.user_models import DashboardSession, User

ROLES = ("owner", "marketer", "viewer")
_RANK = {role: rank for rank, role in enumerate(reversed(ROLES))}
MIN_PASSWORD = 10
SESSION_LIFETIME = timedelta(hours=12)

_hasher = PasswordHasher()
# Checked when the email is unknown, so a wrong email takes as long as a wrong password.
_DECOY = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class UserView:
    sid: str
    email: str
    role: str
    date_created: datetime


@dataclass(frozen=True, slots=True)
class LiveSession:
    """A signed-in dashboard visitor."""

    principal: Principal
    role: str
    user_sid: str | None  # None: signed in with the account's auth token
    token: str

    @property
    def actor(self) -> str:
        """Who this is in the audit log."""
        return self.user_sid or f"dashboard:{self.principal.account_sid}"

    def may(self, role: str) -> bool:
        """Whether this visitor's role is `role` or above it."""
        return _RANK[self.role] >= _RANK[role]


def _email_indexes(store: Store, email: str) -> list[str]:
    """What a look-up by email matches (its index under every key of the ring)."""
    return store.cipher.lookup_indexes(email, "user.email")


def _normal_email(email: str) -> str:
    cleaned = email.strip().lower()
    local, at, domain = cleaned.partition("@")
    if not at or not local or "." not in domain or len(cleaned) > 254:
        raise InvalidParameter(f"{email!r} is not an email address", code=21100, field="email")
    return cleaned


def _check_password(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidParameter(
            f"a password needs at least {MIN_PASSWORD} characters", code=21100, field="password"
        )
    if password.strip().lower() == email:
        raise InvalidParameter("the password cannot be the email", code=21100, field="password")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidParameter(f"role must be one of {', '.join(ROLES)}", code=21100, field="role")


async def add_user(
    store: Store, account_sid: str, email: str, password: str, role: str, *, clock: Clock = utcnow
) -> UserView:
    email = _normal_email(email)
    _check_password(password, email)
    _check_role(role)
    hashed = await asyncio.to_thread(_hasher.hash, password)
    now = clock()
    async with store.db.transaction() as session:
        account = await account_queries.account_by_sid(session, account_sid)
        if account is None:
            raise NotFound(f"Account {account_sid} not found")
        if await queries.user_by_email_index(session, _email_indexes(store, email)):
            raise Conflict(f"{email} already has a dashboard user")
        user = User(
            sid=ids.new_sid(ids.USER),
            account_id=account.id,
            email=store.cipher.seal(email, "user.email"),
            email_index=store.cipher.blind_index(email, "user.email"),
            password_hash=hashed,
            role=role,
            date_created=now,
            date_updated=now,
        )
        session.add(user)
    return UserView(user.sid, email, role, now)


async def list_users(store: Store, account_id: int) -> list[UserView]:
    async with store.db.sessions() as session:
        found = await queries.users_of(session, account_id)
    return [
        UserView(u.sid, store.cipher.open(u.email, "user.email"), u.role, u.date_created)
        for u in found
    ]


async def remove_user(store: Store, account_id: int, user_sid: str, *, clock: Clock = utcnow):
    """Remove a user; their sessions end with them."""
    async with store.db.transaction() as session:
        user = await _user(session, account_id, user_sid)
        await queries.revoke_sessions(session, clock(), user_id=user.id)
        await session.delete(user)


async def set_password(
    store: Store, account_id: int, user_sid: str, password: str, *, clock: Clock = utcnow
) -> None:
    """A new password; every session of the user's ends."""
    async with store.db.sessions() as session:
        user = await _user(session, account_id, user_sid)
        email = store.cipher.open(user.email, "user.email")
    _check_password(password, email)
    hashed = await asyncio.to_thread(_hasher.hash, password)
    async with store.db.transaction() as session:
        user = await _user(session, account_id, user_sid)
        user.password_hash, user.date_updated = hashed, clock()
        await queries.revoke_sessions(session, clock(), user_id=user.id)


async def sign_out_everywhere(
    store: Store, account_id: int, user_sid: str, *, clock: Clock = utcnow
) -> int:
    async with store.db.transaction() as session:
        user = await _user(session, account_id, user_sid)
        return await queries.revoke_sessions(session, clock(), user_id=user.id)


async def _user(session, account_id: int, user_sid: str) -> User:
    user = await queries.user_by_sid(session, account_id, user_sid)
    if user is None:
        raise NotFound(f"User {user_sid} not found")
    return user


async def sign_in_user(
    store: Store, email: str, password: str, address: str | None, *, clock: Clock = utcnow
) -> str:
    """A new session's token, or AuthenticationFailed (the same for a wrong email)."""
    indexes = _email_indexes(store, email.strip().lower())
    async with store.db.sessions() as session:
        user = await queries.user_by_email_index(session, indexes)
        account = await account_queries.account_by_id(session, user.account_id) if user else None
    hashed = user.password_hash if user else _DECOY
    matches = await asyncio.to_thread(_verify, hashed, password)
    if user is None or account is None or account.status != "active" or not matches:
        raise AuthenticationFailed("That email and password do not match")
    return await _new_session(store, user.account_id, user.id, address, clock())


async def sign_in_account(
    store: Store, principal: Principal, address: str | None, *, clock: Clock = utcnow
) -> str:
    """A session for whoever holds the account's auth token (already checked): the owner."""
    return await _new_session(store, principal.account_id, None, address, clock())


async def _new_session(
    store: Store, account_id: int, user_id: int | None, address: str | None, now: datetime
) -> str:
    token = secrets.token_urlsafe(32)
    async with store.db.transaction() as session:
        session.add(
            DashboardSession(
                token_hash=_hash(token),
                account_id=account_id,
                user_id=user_id,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
                address=(address or "")[:64] or None,
            )
        )
    return token


async def live(store: Store, token: str, *, clock: Clock = utcnow) -> LiveSession | None:
    """The visitor a session cookie names, while the session lives and the account is active."""
    async with store.db.sessions() as session:
        found = await queries.live_session(session, _hash(token), clock())
    if found is None:
        return None
    _, account, user = found
    if account.status != "active":
        return None
    auth_token = store.cipher.open(account.auth_token, f"account:{account.sid}")
    via = user.sid if user else account.sid
    principal = Principal(account.id, account.sid, auth_token, via, None, account.rate_limit)
    return LiveSession(principal, user.role if user else "owner", user.sid if user else None, token)


async def sign_out(store: Store, token: str, *, clock: Clock = utcnow) -> None:
    async with store.db.transaction() as session:
        await queries.revoke_sessions(session, clock(), token_hash=_hash(token))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
