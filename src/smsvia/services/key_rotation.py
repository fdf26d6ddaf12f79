"""Master key rotation: every sealed value and blind index moved under the ring's first key.

The procedure (README, "Security"), with no downtime: give every process the ring
"old,new" (the old key still seals), then "new,old" (the new one seals, both open), run
`smsvia keys rotate-master`, then drop the old key. While it runs, look-ups match a value's
index under every key of the ring (store/crypto.Indexes), so a row not yet re-keyed is found.

Online: rows are re-keyed a batch per transaction while the server works; a row is written
only if its sealed values are still those that were read, so a concurrent change always wins.
Resumable: what is done is under the new key, so another run (after a crash, or after a
process that still sealed with the old key) does only what is left; a run ends by counting
what is left, and says when the old key may go.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain.errors import DomainError
from smsvia.store import key_rotation as queries
from smsvia.store.audiences import attribute_index, email_index, first_name_index
from smsvia.store.context import Store
from smsvia.store.crypto import Cipher
from smsvia.store.marketing_models import ConsentEvent, Contact
from smsvia.store.models import (
    Account,
    Connector,
    InboundPart,
    Message,
    RcsEvent,
    WebhookDelivery,
)
from smsvia.store.tracking_models import Order, ShortLink
from smsvia.store.user_models import User

log = logging.getLogger(__name__)

BATCH = 500
_BUSY_RETRIES = 20  # SQLite: the server may hold the write lock a moment

Row = Mapping[str, Any]


class NothingToRotate(DomainError):
    code = 100030
    http_status = 400


@dataclass(frozen=True, slots=True)
class Sealed:
    column: str
    context: str | Callable[[Row], str]  # fixed, or made from the row (its extra columns)

    def context_of(self, row: Row) -> str:
        return self.context if isinstance(self.context, str) else self.context(row)


@dataclass(frozen=True, slots=True)
class Derived:
    """A blind index computed from the plaintext of one of the row's sealed columns."""

    column: str
    source: str
    index: Callable[[Callable[[str, str], str], str], str]


@dataclass(frozen=True, slots=True)
class Subject:
    """A table with sealed columns, what is derived from them, and what follows them."""

    table: Table
    sealed: tuple[Sealed, ...]
    derived: tuple[Derived, ...] = ()
    extra: tuple[str, ...] = ()  # columns read for contexts and follow-ups
    # Rows elsewhere holding only an index of these values: (session, cipher, rows, opened).
    follow: Callable[..., Any] | None = None


@dataclass
class Progress:
    table: str
    rewritten: int = 0
    left: int = 0


@dataclass
class Report:
    key_id: str
    tables: list[Progress] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return all(progress.left == 0 for progress in self.tables)


def _phone(blind: Callable[[str, str], str], number: str) -> str:
    return blind(number, "phone")


async def _contacts_follow(
    session: AsyncSession, cipher: Cipher, rows: Sequence[Row], opened: Sequence[Row]
) -> None:
    """Attribute indexes of each contact, from its attributes."""
    pairs = []
    for row, plain in zip(rows, opened, strict=True):
        if plain.get("attributes") is None:
            continue
        for name, value in json.loads(plain["attributes"]).items():
            # The same normalization as when the index was written, without hashing it.
            text, purpose = attribute_index(lambda *it: it, name, str(value))
            pairs += [{**pair, "contact": row["id"]} for pair in _pairs(cipher, text, purpose)]
    await queries.reindex_attributes(session, pairs)


async def _messages_follow(
    session: AsyncSession, cipher: Cipher, rows: Sequence[Row], opened: Sequence[Row]
) -> None:
    """Clicks take their message's index; receipts still waiting, their handset's."""
    await queries.follow_messages(session, [row["id"] for row in rows])
    handsets = {plain["recipient"] for plain in opened if plain.get("recipient")}
    pairs = [pair for number in handsets for pair in _pairs(cipher, number, "phone")]
    await queries.reindex_waiting_receipts(session, pairs)


async def _links_follow(
    session: AsyncSession, cipher: Cipher, rows: Sequence[Row], opened: Sequence[Row]
) -> None:
    """Each account's kept link previews, by the link's URL."""
    pairs = []
    for row, plain in zip(rows, opened, strict=True):
        for pair in _pairs(cipher, plain["url"], "link.url"):
            pairs.append({**pair, "account": row["account_id"]})
    unique = list({tuple(sorted(p.items())): p for p in pairs}.values())
    await queries.reindex_previews(session, unique)


def _pairs(cipher: Cipher, value: str, context: str) -> list[dict[str, str]]:
    """Every older index of `value` -> its primary index."""
    found = cipher.indexes([value], context)
    first = found.of(value)
    return [{"old": old, "new": first} for old in found.all if old != first]


def _of(model: Any) -> Table:
    return model.__table__


SUBJECTS: tuple[Subject, ...] = (
    Subject(
        _of(Account),
        (
            Sealed("auth_token", lambda row: f"account:{row['sid']}"),
            Sealed("shopify_secret", "account.shopify_secret"),
        ),
        extra=("sid",),
    ),
    Subject(
        _of(Connector), (Sealed("secret", lambda row: f"connector:{row['name']}"),), extra=("name",)
    ),
    Subject(
        _of(User),
        (Sealed("email", "user.email"),),
        (Derived("email_index", "email", lambda blind, email: blind(email, "user.email")),),
    ),
    Subject(
        _of(Contact),
        (
            Sealed("phone", "contact.phone"),
            Sealed("email", "contact.email"),
            Sealed("first_name", "contact.first_name"),
            Sealed("last_name", "contact.last_name"),
            Sealed("attributes", "contact.attributes"),
        ),
        (
            Derived("phone_index", "phone", _phone),
            Derived("email_index", "email", email_index),
            Derived("first_name_index", "first_name", first_name_index),
        ),
        follow=_contacts_follow,
    ),
    Subject(
        _of(ConsentEvent),
        (Sealed("phone", "consent.phone"), Sealed("evidence", "consent.evidence")),
        (Derived("phone_index", "phone", _phone),),
    ),
    Subject(
        _of(Message),
        (
            Sealed("recipient", "message.to"),
            Sealed("body", "message.body"),
            Sealed("rich_content", "message.rich_content"),
        ),
        (Derived("recipient_index", "recipient", _phone),),
        follow=_messages_follow,
    ),
    Subject(
        _of(Order),
        (Sealed("phone", "order.phone"), Sealed("email", "order.email")),
        (
            Derived("phone_index", "phone", _phone),
            Derived("email_index", "email", email_index),
        ),
    ),
    Subject(
        _of(ShortLink),
        (Sealed("url", "link.url"),),
        (Derived("url_index", "url", lambda blind, url: blind(url, "link.url")),),
        extra=("account_id",),
        follow=_links_follow,
    ),
    Subject(_of(RcsEvent), (Sealed("payload", "rcs_event.payload"),)),
    Subject(
        _of(InboundPart),
        (Sealed("source", "inbound_part.source"), Sealed("payload", "inbound_part.payload")),
        (Derived("source_index", "source", _phone),),
    ),
    Subject(_of(WebhookDelivery), (Sealed("payload", "webhook.payload"),)),
)


async def rotate(
    store: Store,
    *,
    batch: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> Report:
    """Re-key every row not yet under the primary key; then count what is left."""
    cipher = store.cipher
    ready_to_rotate(cipher)
    report = Report(cipher.key_id)
    for subject in SUBJECTS:
        done = Progress(subject.table.name)
        after = 0
        while True:
            count, after = await _with_retries(_one_batch, store, subject, after, batch)
            if count == 0:
                break
            done.rewritten += count
            if progress is not None:
                progress(subject.table.name, count)
        report.tables.append(done)
    async with store.db.transaction() as session:
        await queries.follow_contacts(session)
    for done, left in zip(report.tables, await remaining(store), strict=True):
        done.left = left.left
    return report


def ready_to_rotate(cipher: Cipher) -> None:
    """NothingToRotate unless the configuration holds a ring (the new key, then the old)."""
    if not cipher.rotating:
        raise NothingToRotate(
            "the master key configuration (SMSVIA_MASTER_KEY, or the key file in the data "
            "directory, one key a line) holds one key: put the new key first and the old one "
            'after it ("new,old") for every process, then run this again (`smsvia keys '
            "rotate-master --new-key` makes a key)"
        )


async def remaining(store: Store) -> list[Progress]:
    """How many rows of each table still hold a value sealed with an older key."""
    prefix = store.cipher.current_prefix
    found = []
    async with store.db.sessions() as session:
        for subject in SUBJECTS:
            names = [sealed.column for sealed in subject.sealed]
            left = await queries.count_stale(session, subject.table, names, prefix)
            found.append(Progress(subject.table.name, left=left))
    return found


async def _one_batch(store: Store, subject: Subject, after: int, batch: int) -> tuple[int, int]:
    """Re-key up to `batch` stale rows after id `after`: (how many, the last id)."""
    cipher = store.cipher
    names = [sealed.column for sealed in subject.sealed]
    async with store.db.transaction() as session:
        rows = await queries.stale_rows(
            session, subject.table, names, subject.extra, cipher.current_prefix, after, batch
        )
        if not rows:
            return 0, after
        opened = [_open(cipher, subject, row) for row in rows]
        await queries.rewrite(
            session,
            subject.table,
            names,
            [
                _rekeyed(cipher, subject, row, plain)
                for row, plain in zip(rows, opened, strict=True)
            ],
        )
        if subject.follow is not None:
            await subject.follow(session, cipher, rows, opened)
    return len(rows), rows[-1]["id"]


def _open(cipher: Cipher, subject: Subject, row: Row) -> dict[str, str | None]:
    return {
        sealed.column: None
        if row[sealed.column] is None
        else cipher.open(row[sealed.column], sealed.context_of(row))
        for sealed in subject.sealed
    }


def _rekeyed(
    cipher: Cipher, subject: Subject, row: Row, plain: Mapping[str, str | None]
) -> dict[str, Any]:
    """The update of one row: old values as the guard, new ciphertexts and indexes."""
    update: dict[str, Any] = {"row_id": row["id"]}
    for sealed in subject.sealed:
        update[f"old_{sealed.column}"] = row[sealed.column]
        text = plain[sealed.column]
        if text is not None:
            update[f"new_{sealed.column}"] = cipher.seal(text, sealed.context_of(row))
    for derived in subject.derived:
        source = plain[derived.source]
        if source is not None:
            update[f"new_{derived.column}"] = derived.index(cipher.blind_index, source)
    return update


async def _with_retries(work: Callable[..., Any], *args: Any) -> Any:
    """Run one batch; on SQLite, wait out the server's write lock (another process)."""
    for attempt in range(_BUSY_RETRIES):
        try:
            return await work(*args)
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == _BUSY_RETRIES - 1:
                raise
            log.info("the database is busy; retrying this batch")
            await asyncio.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")
