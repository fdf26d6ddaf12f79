"""Accounts, API keys and who is calling (HTTP Basic with SID + token, or key SID + secret)."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from smsvia.domain import ids
from smsvia.domain.errors import AuthenticationFailed, InvalidParameter, NotFound
from smsvia.domain.quiet_hours import parse_window
from smsvia.services.clock import Clock, utcnow
from smsvia.store import accounts as queries
from smsvia.store.context import Store
from smsvia.store.models import Account, ApiKey

_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class Credentials:
    sid: str
    secret: str


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller, acting for one account."""

    account_id: int
    account_sid: str
    auth_token: str  # the account's, used to sign its callbacks
    via: str  # the SID that authenticated: the account's or an API key's


async def create_account(store: Store, friendly_name: str, *, clock: Clock = utcnow) -> Credentials:
    """A new account; its auth token is returned once and stored sealed."""
    now = clock()
    sid, token = ids.new_sid(ids.ACCOUNT), ids.new_secret()
    async with store.db.transaction() as session:
        session.add(
            Account(
                sid=sid,
                friendly_name=friendly_name,
                auth_token=store.cipher.seal(token, f"account:{sid}"),
                status="active",
                date_created=now,
                date_updated=now,
            )
        )
    return Credentials(sid, token)


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """Settings to change; None leaves one as it is, "" puts a text back to its default."""

    rcs_fallback_seconds: int | None = None
    help_text: str | None = None
    opt_out_text: str | None = None
    opt_in_text: str | None = None
    quiet_hours: str | None = None  # "21:00-08:00"
    marketing_cap_24h: int | None = None  # 0: no account-wide cap
    shopify_secret: str | None = None  # the orders webhook's signing secret; "" removes it
    attribution_click_days: int | None = None  # an order looks back this far for a click
    attribution_delivery_hours: int | None = None  # ... else for a delivered campaign text


async def acting_for(store: Store, account_sid: str, via: str = "cli") -> Principal:
    """The account as the operator acts for it from the command line."""
    async with store.db.sessions() as session:
        account = await queries.account_by_sid(session, account_sid)
    if account is None:
        raise NotFound(f"Account {account_sid} not found")
    return Principal(account.id, account.sid, "", via)


MAX_REPLY = 320  # characters in an automatic reply: two GSM-7 segments


async def update_settings(
    store: Store, account_sid: str, changes: AccountSettings, *, clock: Clock = utcnow
) -> None:
    """Change the account's settings; each is checked before any is written."""
    seconds = changes.rcs_fallback_seconds
    if seconds is not None and not 1 <= seconds <= 86_400:
        raise InvalidParameter(
            "the fallback window must be between 1 and 86400 seconds",
            code=21100,
            field="rcs_fallback_seconds",
        )
    texts = {
        name: getattr(changes, name)
        for name in ("help_text", "opt_out_text", "opt_in_text")
        if getattr(changes, name) is not None
    }
    for name, text in texts.items():
        if len(text) > MAX_REPLY:
            raise InvalidParameter(
                f"{name} is longer than {MAX_REPLY} characters", code=21100, field=name
            )
    if changes.quiet_hours is not None:
        parse_window(changes.quiet_hours, "quiet hours")
    cap = changes.marketing_cap_24h
    if cap is not None and cap < 0:
        raise InvalidParameter(
            "marketing_cap_24h must be 0 (no cap) or more", code=21100, field="marketing_cap_24h"
        )
    _check_windows(changes)
    async with store.db.transaction() as session:
        account = await queries.account_by_sid(session, account_sid)
        if account is None:
            raise NotFound(f"Account {account_sid} not found")
        if changes.shopify_secret is not None:
            secret = changes.shopify_secret.strip()
            account.shopify_secret = (
                store.cipher.seal(secret, "account.shopify_secret") if secret else None
            )
        if changes.attribution_click_days is not None:
            account.attribution_click_days = changes.attribution_click_days
        if changes.attribution_delivery_hours is not None:
            account.attribution_delivery_hours = changes.attribution_delivery_hours
        if seconds is not None:
            account.rcs_fallback_seconds = seconds
        for name, text in texts.items():
            setattr(account, name, text.strip() or None)
        if changes.quiet_hours is not None:
            account.quiet_hours = changes.quiet_hours.strip()
        if cap is not None:
            account.marketing_cap_24h = cap or None
        account.date_updated = clock()


def _check_windows(changes: AccountSettings) -> None:
    for name, most in (("attribution_click_days", 90), ("attribution_delivery_hours", 720)):
        value = getattr(changes, name)
        if value is not None and not 0 <= value <= most:
            raise InvalidParameter(f"{name} must be between 0 and {most}", code=21100, field=name)


async def create_api_key(
    store: Store, account_sid: str, friendly_name: str, *, clock: Clock = utcnow
) -> Credentials:
    """A new API key (SK…) for the account; the secret is returned once and stored hashed."""
    sid, secret = ids.new_sid(ids.API_KEY), ids.new_secret()
    async with store.db.transaction() as session:
        account = await queries.account_by_sid(session, account_sid)
        if account is None:
            raise NotFound(f"Account {account_sid} not found")
        session.add(
            ApiKey(
                sid=sid,
                account_id=account.id,
                friendly_name=friendly_name,
                secret_hash=_hasher.hash(secret),
                date_created=clock(),
            )
        )
    return Credentials(sid, secret)


class Authenticator:
    """Checks Basic credentials; remembers recent successes so argon2 runs once per key.

    A revoked key or rotated token stops working within `ttl` seconds.
    """

    def __init__(self, store: Store, ttl: float = 60.0, size: int = 10_000) -> None:
        self._store = store
        self._ttl = ttl
        self._size = size
        self._recent: dict[tuple[str, bytes], tuple[float, Principal]] = {}

    async def authenticate(self, username: str, password: str) -> Principal:
        key = (username, hashlib.sha256(password.encode()).digest())
        cached = self._recent.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        principal = await self._check(username, password)
        if len(self._recent) >= self._size:
            self._recent.clear()
        self._recent[key] = (time.monotonic() + self._ttl, principal)
        return principal

    async def _check(self, username: str, password: str) -> Principal:
        failed = AuthenticationFailed("Authentication Error - invalid username")
        async with self._store.db.sessions() as session:
            if ids.is_sid(username, ids.ACCOUNT):
                account = await queries.account_by_sid(session, username)
                if account is None or account.status != "active":
                    raise failed
                token = self._token(account)
                if not hmac.compare_digest(token.encode(), password.encode()):
                    raise failed
                return Principal(account.id, account.sid, token, account.sid)
            if ids.is_sid(username, ids.API_KEY):
                key = await queries.api_key_by_sid(session, username)
                if key is None or not _verify(key.secret_hash, password):
                    raise failed
                account = await queries.account_by_id(session, key.account_id)
                if account is None or account.status != "active":
                    raise failed
                return Principal(account.id, account.sid, self._token(account), key.sid)
        raise failed

    async def account(self, account_sid: str) -> Principal:
        """An active account, already authenticated some other way (a dashboard session)."""
        async with self._store.db.sessions() as session:
            account = await queries.account_by_sid(session, account_sid)
        if account is None or account.status != "active":
            raise AuthenticationFailed("The account is unknown or no longer active")
        return Principal(account.id, account.sid, self._token(account), account.sid)

    def _token(self, account: Account) -> str:
        return self._store.cipher.open(account.auth_token, f"account:{account.sid}")


def _verify(secret_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(secret_hash, password)
    except (VerificationError, InvalidHashError):
        return False
