"""Named queries for status callbacks.

-- claim_due_deliveries --  take up to N callbacks due now that no live lease holds
-- existing_deliveries --  which of some callbacks still exist (a deleted message takes its own)
-- record_attempts --       what each try answered (the delivery rows are saved with rows.save)
-- attempts_of --           every attempt made for one callback
-- attempts_for_message --  every callback attempt made about one message, oldest first
-- pending_for_message --   how many callbacks about one message are still to be made
-- queue_webhooks --       signed form POSTs to make (status callbacks, inbound forwards),
                           unclaimed or born claimed by the poster that will make them
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.crypto import Cipher
from smsvia.store.leases import lease_due
from smsvia.store.models import WebhookAttempt, WebhookDelivery
from smsvia.store.rows import Loaded, among_given, insert_many, insert_returning

_deliveries = WebhookDelivery.__table__


class DeliveryRow(Loaded):
    """A callback to make, as the dispatcher reads and saves it (Core, a batch at a time)."""

    table = _deliveries
    __slots__ = tuple(_deliveries.c.keys())


async def claim_due_deliveries(
    session: AsyncSession, *, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[DeliveryRow]:
    rows = await lease_due(
        session,
        _deliveries,
        owner=owner,
        now=now,
        lease_until=lease_until,
        limit=limit,
        returning=tuple(_deliveries.c),
    )
    return [DeliveryRow(row) for row in rows]


async def existing_deliveries(session: AsyncSession, ids: Collection[int]) -> set[int]:
    """Those of `ids` still there."""
    if not ids:
        return set()
    found = await session.scalars(_existing(session.bind.dialect), {"ids": list(ids)})
    return set(found)


@functools.cache
def _existing(dialect: Dialect) -> Select[Any]:
    """`existing_deliveries`' query, built once (building it cost more than running it)."""
    return select(_deliveries.c.id).where(among_given(dialect, _deliveries.c.id, "ids"))


async def record_attempts(session: AsyncSession, attempts: Sequence[Mapping[str, Any]]) -> None:
    """Every attempt made, one multi-row INSERT for a batch."""
    await insert_many(session, WebhookAttempt.__table__, attempts)


async def attempts_of(session: AsyncSession, delivery_id: int) -> Sequence[WebhookAttempt]:
    return (
        await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id)
        )
    ).all()


async def attempts_for_message(
    session: AsyncSession, message_id: int
) -> Sequence[tuple[WebhookDelivery, WebhookAttempt]]:
    rows = await session.execute(
        select(WebhookDelivery, WebhookAttempt)
        .join(WebhookAttempt, WebhookAttempt.delivery_id == WebhookDelivery.id)
        .where(WebhookDelivery.message_id == message_id)
        .order_by(WebhookAttempt.id)
    )
    return [(delivery, attempt) for delivery, attempt in rows]


async def pending_for_message(session: AsyncSession, message_id: int) -> int:
    return await session.scalar(
        select(func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.message_id == message_id, WebhookDelivery.status == "pending")
    )


@dataclass(frozen=True, slots=True)
class Webhook:
    """A signed form POST to make: a status callback, an inbound message forwarded."""

    account_id: int
    message_id: int
    url: str
    params: Mapping[str, str]
    now: datetime

    def values(self, cipher: Cipher) -> dict[str, Any]:
        """Its row: due at once, the parameters sealed (they hold numbers and bodies)."""
        return {
            "account_id": self.account_id,
            "message_id": self.message_id,
            "url": self.url,
            "payload": cipher.seal(json.dumps(dict(self.params)), "webhook.payload"),
            "status": "pending",
            "attempts": 0,
            "due_at": self.now,
            "date_created": self.now,
        }


async def queue_webhooks(
    session: AsyncSession,
    cipher: Cipher,
    webhooks: Sequence[Webhook],
    *,
    leased_to: tuple[str, datetime] | None = None,
) -> list[DeliveryRow]:
    """Due at once, in one multi-row INSERT however many.

    `leased_to` (owner, until): the rows are born claimed by that poster, which takes them
    from memory once the transaction commits; they are returned, with their ids, for it.
    Nobody else claims them before the lease runs out or its holder is found gone."""
    rows = [webhook.values(cipher) for webhook in webhooks]
    if leased_to is None:
        await insert_many(session, _deliveries, rows)
        return []
    owner, until = leased_to
    for row in rows:
        row["lease_owner"], row["lease_expires_at"] = owner, until
    ids = await insert_returning(session, _deliveries, rows)
    return [DeliveryRow.of({**row, "id": id_}) for row, (id_,) in zip(rows, ids, strict=True)]
