"""Queries about connectors (SMSC, RBM) and the numbers accounts send from."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.models import Connector, Number


async def connector_by_name(session: AsyncSession, name: str) -> Connector | None:
    return await session.scalar(select(Connector).where(Connector.name == name))


async def all_connectors(session: AsyncSession) -> Sequence[Connector]:
    return (await session.scalars(select(Connector).order_by(Connector.name))).all()


async def number_by_phone(session: AsyncSession, phone_number: str) -> Number | None:
    return await session.scalar(select(Number).where(Number.phone_number == phone_number))


async def numbers_on_connector(session: AsyncSession, connector: str) -> Sequence[Number]:
    """The numbers whose texts go out (and come in) on the SMS connector `connector`."""
    return (
        await session.scalars(
            select(Number)
            .join(Connector, Number.connector_id == Connector.id)
            .where(Connector.name == connector)
            .order_by(Number.phone_number)
        )
    ).all()


async def sender_of_account(
    session: AsyncSession, account_id: int, phone_number: str
) -> Number | None:
    """The account's sender `phone_number`; None when it is someone else's or nobody's."""
    return await session.scalar(
        select(Number).where(Number.account_id == account_id, Number.phone_number == phone_number)
    )


async def numbers_of_account(session: AsyncSession, account_id: int) -> Sequence[Number]:
    return (
        await session.scalars(
            select(Number).where(Number.account_id == account_id).order_by(Number.phone_number)
        )
    ).all()
