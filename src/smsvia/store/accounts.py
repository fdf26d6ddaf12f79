"""Queries about accounts and their API keys."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Row as SqlRow
from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.models import Account, ApiKey


async def account_by_sid(session: AsyncSession, sid: str) -> Account | None:
    return await session.scalar(select(Account).where(Account.sid == sid))


async def api_key_by_sid(session: AsyncSession, sid: str) -> ApiKey | None:
    return await session.scalar(select(ApiKey).where(ApiKey.sid == sid))


async def account_by_id(session: AsyncSession, account_id: int) -> Account | None:
    return await session.get(Account, account_id)


_accounts = Account.__table__
_SEALED_TOKEN = select(_accounts.c.sid, _accounts.c.auth_token).where(
    _accounts.c.id == bindparam("id")
)


async def sealed_token(session: AsyncSession, account_id: int) -> SqlRow[Any] | None:
    """The account's SID and its auth token as stored (sealed): what signing its callbacks
    takes, without loading the account."""
    return (await session.execute(_SEALED_TOKEN, {"id": account_id})).first()


async def api_keys_of(session: AsyncSession, account_id: int) -> list[ApiKey]:
    found = await session.scalars(
        select(ApiKey).where(ApiKey.account_id == account_id).order_by(ApiKey.id.desc())
    )
    return list(found)


async def credentials_of(
    session: AsyncSession, account_sids: Collection[str], key_sids: Collection[str]
) -> tuple[dict[str, Account], dict[str, ApiKey]]:
    """The accounts and API keys these SIDs name (and the keys' accounts), two queries for
    a whole batch of logins."""
    keys = (
        {k.sid: k for k in await session.scalars(select(ApiKey).where(ApiKey.sid.in_(key_sids)))}
        if key_sids
        else {}
    )
    wanted = or_(
        Account.sid.in_(account_sids), Account.id.in_({k.account_id for k in keys.values()})
    )
    accounts = list(await session.scalars(select(Account).where(wanted)))
    return {a.sid: a for a in accounts}, keys
