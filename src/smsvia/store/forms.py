"""Queries about hosted opt-in forms."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.marketing_models import OptInForm
from smsvia.store.models import Number


async def form_with_number(session: AsyncSession, sid: str) -> tuple[OptInForm, Number] | None:
    """A form and the number that confirms it; not scoped by account: the page is public."""
    row = (
        await session.execute(
            select(OptInForm, Number)
            .join(Number, Number.id == OptInForm.number_id)
            .where(OptInForm.sid == sid)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def forms_of_account(
    session: AsyncSession, account_id: int
) -> Sequence[tuple[OptInForm, Number]]:
    rows = await session.execute(
        select(OptInForm, Number)
        .join(Number, Number.id == OptInForm.number_id)
        .where(OptInForm.account_id == account_id)
        .order_by(OptInForm.id)
    )
    return [(form, number) for form, number in rows]
