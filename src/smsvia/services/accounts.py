"""Accounts, API keys and who is calling (HTTP Basic with SID + token, or key SID + secret)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from smsvia.domain import ids
from smsvia.domain.errors import AuthenticationFailed, InvalidParameter, NotFound
from smsvia.domain.quiet_hours import parse_window
from smsvia.services.clock import Clock, utcnow
from smsvia.services.group_commit import GroupCommit
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
    scopes: frozenset[str] | None = None  # a restricted key's; None: everything
    rate_limit: float | None = None  # requests a second this credential may make

    def may(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes


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
    rate_limit: float | None = None  # requests a second per credential; 0 removes the limit


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
    limit = changes.rate_limit
    if limit is not None and not (0 <= limit <= 100_000):
        raise InvalidParameter(
            "rate_limit must be between 0 (no limit) and 100000 a second",
            code=21100,
            field="rate_limit",
        )
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
        if limit is not None:
            account.rate_limit = limit or None
            await store.credentials.changed(session)  # logins remembered carry the limit
        account.date_updated = clock()
    if limit is not None:
        store.credentials.committed()


def _check_windows(changes: AccountSettings) -> None:
    for name, most in (("attribution_click_days", 90), ("attribution_delivery_hours", 720)):
        value = getattr(changes, name)
        if value is not None and not 0 <= value <= most:
            raise InvalidParameter(f"{name} must be between 0 and {most}", code=21100, field=name)


class Authenticator:
    """Checks Basic credentials without ever letting revoked ones through.

    On SQLite a success is remembered while the credential stamp next to the database is
    unchanged (store/credential_watch.py: every process that deletes a key or rotates a
    token stamps it, before and after its commit), so a warm login costs a stat. On
    PostgreSQL, where a change made elsewhere could only be heard a moment late, every
    request reads its key or account row (an indexed look-up); only argon2's verdict on a
    key's secret is remembered, for as long as the key's hash is the same.
    """

    def __init__(self, store: Store, ttl: float = 60.0, size: int = 10_000) -> None:
        self._store = store
        self._ttl = ttl
        self._size = size
        self._recent: dict[tuple[str, bytes], tuple[float, object, Principal]] = {}
        self._verified: set[tuple[str, bytes]] = set()  # (secret hash, password digest)
        self._lookups: GroupCommit[tuple[str, str, bytes], Principal] = GroupCommit(
            self._check_batch, max_batch=256
        )

    async def authenticate(self, username: str, password: str) -> Principal:
        watch = self._store.credentials
        digest = hashlib.sha256(password.encode()).digest()
        key = (username, digest)
        generation = watch.generation
        cached = self._recent.get(key) if watch.trusted else None
        if cached is not None and cached[0] > time.monotonic() and cached[1] == generation:
            return cached[2]
        principal = await self._check(username, password, digest)
        if watch.trusted:
            if len(self._recent) >= self._size:
                self._recent.clear()
            # Stamped with the generation read before the check: a change during it shows.
            self._recent[key] = (time.monotonic() + self._ttl, generation, principal)
        return principal

    async def _check(self, username: str, password: str, digest: bytes) -> Principal:
        """Checked against the rows as they are now; concurrent logins share the look-up
        (one session, two queries a batch), as concurrent sends share a commit."""
        if not (ids.is_sid(username, ids.ACCOUNT) or ids.is_sid(username, ids.API_KEY)):
            raise AuthenticationFailed("Authentication Error - invalid username")
        return await self._lookups.submit((username, password, digest))

    async def _check_batch(
        self, batch: Sequence[tuple[str, str, bytes]]
    ) -> list[Principal | Exception]:
        account_sids = {name for name, _, _ in batch if ids.is_sid(name, ids.ACCOUNT)}
        key_sids = {name for name, _, _ in batch if ids.is_sid(name, ids.API_KEY)}
        async with self._store.db.sessions() as session:
            accounts, keys = await queries.credentials_of(session, account_sids, key_sids)
        by_id = {account.id: account for account in accounts.values()}
        return [self._verdict(login, accounts, keys, by_id) for login in batch]

    def _verdict(
        self,
        login: tuple[str, str, bytes],
        accounts: dict[str, Account],
        keys: dict[str, ApiKey],
        by_id: dict[int, Account],
    ) -> Principal | Exception:
        username, password, digest = login
        failed = AuthenticationFailed("Authentication Error - invalid username")
        key = keys.get(username)
        if key is not None:
            account = by_id.get(key.account_id)
            if account is None or account.status != "active":
                return failed
            if not self._secret_matches(key.secret_hash, password, digest):
                return failed
            scopes = frozenset(key.scopes) if key.scopes is not None else None
            return Principal(
                account.id, account.sid, self._token(account), key.sid, scopes, account.rate_limit
            )
        account = accounts.get(username)
        if account is None or account.status != "active":
            return failed
        token = self._token(account)
        if not hmac.compare_digest(token.encode(), password.encode()):
            return failed
        return Principal(account.id, account.sid, token, account.sid, None, account.rate_limit)

    def _secret_matches(self, secret_hash: str, password: str, digest: bytes) -> bool:
        """argon2 once per key and secret: tens of milliseconds, by design."""
        if (secret_hash, digest) in self._verified:
            return True
        if not _verify(secret_hash, password):
            return False
        if len(self._verified) >= self._size:
            self._verified.clear()
        self._verified.add((secret_hash, digest))
        return True

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
