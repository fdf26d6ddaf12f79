"""Queries about dashboard users and their sessions."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.models import Account
from smsvia.store.user_models import DashboardSession, User


async def user_by_email_index(session: AsyncSession, indexes: Collection[str]) -> User | None:
    return await session.scalar(select(User).where(User.email_index.in_(list(indexes))))


async def user_by_sid(session: AsyncSession, account_id: int, sid: str) -> User | None:
    return await session.scalar(select(User).where(User.sid == sid, User.account_id == account_id))


async def users_of(session: AsyncSession, account_id: int) -> list[User]:
    return list(
        await session.scalars(select(User).where(User.account_id == account_id).order_by(User.id))
    )


async def live_session(
    session: AsyncSession, token_hash: str, now: datetime
) -> tuple[DashboardSession, Account, User | None] | None:
    """A session that is neither revoked nor expired, with its account and user."""
    row = (
        await session.execute(
            select(DashboardSession, Account, User)
            .join(Account, Account.id == DashboardSession.account_id)
            .outerjoin(User, User.id == DashboardSession.user_id)
            .where(
                DashboardSession.token_hash == token_hash,
                DashboardSession.revoked_at.is_(None),
                DashboardSession.expires_at > now,
            )
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


async def revoke_sessions(
    session: AsyncSession,
    now: datetime,
    *,
    token_hash: str | None = None,
    user_id: int | None = None,
    account_id: int | None = None,
    without_user: bool = False,
) -> int:
    """Revoke one session (token_hash), a user's (user_id), or an account's sessions made
    with its auth token (account_id, without_user)."""
    query = update(DashboardSession).where(DashboardSession.revoked_at.is_(None))
    if token_hash is not None:
        query = query.where(DashboardSession.token_hash == token_hash)
    if user_id is not None:
        query = query.where(DashboardSession.user_id == user_id)
    if account_id is not None:
        query = query.where(DashboardSession.account_id == account_id)
    if without_user:
        query = query.where(DashboardSession.user_id.is_(None))
    result = await session.execute(query.values(revoked_at=now))
    return int(result.rowcount or 0)
