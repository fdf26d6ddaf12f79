"""Queries about accounts and their API keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.models import Account, ApiKey


async def account_by_sid(session: AsyncSession, sid: str) -> Account | None:
    return await session.scalar(select(Account).where(Account.sid == sid))


async def api_key_by_sid(session: AsyncSession, sid: str) -> ApiKey | None:
    return await session.scalar(select(ApiKey).where(ApiKey.sid == sid))


async def account_by_id(session: AsyncSession, account_id: int) -> Account | None:
    return await session.get(Account, account_id)
