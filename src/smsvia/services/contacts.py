"""Contacts: kept sealed, found by blind index, imported from CSV files of any size.

An import streams the file: rows are read, checked and written a batch at a time, so a
million-row file takes as much memory as one batch. A bad row (bad number, bad date, wrong
column count) goes to the error report with its row number and why; it never stops the rows
around it. A contact that exists (same number) is updated; imported evidence of consent
becomes a consent ledger entry.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from smsvia.domain import ids
from smsvia.domain.consent import ConsentKind
from smsvia.domain.contacts import ContactData, InvalidContact, parse_contact
from smsvia.domain.errors import InvalidParameter, NotFound
from smsvia.services import consent
from smsvia.services.clock import Clock, utcnow
from smsvia.store import accounts as account_queries
from smsvia.store import contacts as queries
from smsvia.store.context import Store
from smsvia.store.models import Contact

BATCH = 1000  # rows a transaction


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    consents: int = 0


async def import_csv(
    store: Store,
    account_sid: str,
    path: Path,
    *,
    errors_to: Path,
    default_region: str = "US",
    on_progress: Callable[[int], None] | None = None,
    clock: Clock = utcnow,
) -> ImportReport:
    """Upsert every good row of the CSV file at `path`; bad rows go to `errors_to`."""
    async with store.db.sessions() as session:
        account = await account_queries.account_by_sid(session, account_sid)
    if account is None:
        raise NotFound(f"Account {account_sid} not found")
    report = ImportReport()
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InvalidParameter(f"cannot read {path}: {exc.strerror}", code=21100) from exc
    with raw, errors_to.open("w", newline="", encoding="utf-8") as errors_file:
        errors = csv.writer(errors_file)
        errors.writerow(["row", "field", "error", "values"])
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        batch: list[tuple[int, ContactData]] = []
        for number, values, problem in _rows(text):
            report.rows += 1
            if problem is None:
                try:
                    batch.append((number, parse_contact(values, default_region)))
                except InvalidContact as exc:
                    problem = (exc.field or "", exc.message)
            if problem is not None:
                report.failed += 1
                errors.writerow([number, problem[0], problem[1], json.dumps(values)])
            if len(batch) >= BATCH:
                await _write(store, account.id, batch, path.name, report, clock())
                batch = []
                if on_progress is not None:
                    on_progress(raw.tell())
        if batch:
            await _write(store, account.id, batch, path.name, report, clock())
        if on_progress is not None:
            on_progress(raw.tell())
    return report


def _rows(text: IO[str]) -> Iterator[tuple[int, dict[str, str | None], tuple[str, str] | None]]:
    """(row number, values by normalized header, problem) for every data row."""
    reader = csv.reader(text)
    try:
        header = [_column(name) for name in next(reader)]
    except StopIteration:
        return
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InvalidParameter(f"the file is not a readable CSV: {exc}", code=21100) from exc
    if "phone" not in header:
        raise InvalidParameter("the CSV has no phone column", code=21100, field="phone")
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            yield reader.line_num, {}, ("", f"unreadable row: {exc}")
            continue
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        values: dict[str, str | None] = dict(zip(header, cells, strict=False))
        if len(cells) != len(header):
            problem = ("", f"{len(cells)} columns where the header has {len(header)}")
            if len(cells) > len(header):
                values["(extra)"] = ",".join(cells[len(header) :])
            yield reader.line_num, values, problem
            continue
        yield reader.line_num, values, None


def _column(name: str) -> str:
    return "_".join(name.strip().lower().split())


async def _write(
    store: Store,
    account_id: int,
    batch: list[tuple[int, ContactData]],
    source: str,
    report: ImportReport,
    now: datetime,
) -> None:
    # The same number twice in a batch: the later row wins, as it would across batches.
    latest: dict[str, tuple[int, ContactData]] = {}
    for number, data in batch:
        latest[store.cipher.blind_index(data.phone, "phone")] = (number, data)
    async with store.db.transaction() as session:
        existing = await queries.contacts_by_phone_index(session, account_id, latest)
        for index, (_, data) in latest.items():
            contact = existing.get(index)
            if contact is None:
                session.add(_new_contact(store, account_id, index, data, now))
                report.created += 1
            else:
                _update(store, contact, data, now)
                report.updated += 1
        consents = [
            _imported_consent(data, source, number)
            for number, data in latest.values()
            if data.consented_at is not None
        ]
        await consent.append_many(session, store, account_id, consents, now)
        report.consents += len(consents)


def _imported_consent(data: ContactData, source: str, row: int) -> consent.NewConsent:
    assert data.consented_at is not None
    return consent.NewConsent(
        phone=data.phone,
        kind=ConsentKind.IMPORTED,
        source="import",
        evidence={
            "file": source,
            "row": row,
            "consented_at": data.consented_at.isoformat(),
            "consent_source": data.consent_source or "",
        },
    )


def _new_contact(
    store: Store, account_id: int, index: str, data: ContactData, now: datetime
) -> Contact:
    contact = Contact(
        sid=ids.new_sid(ids.CONTACT),
        account_id=account_id,
        phone=store.cipher.seal(data.phone, "contact.phone"),
        phone_index=index,
        date_created=now,
    )
    _update(store, contact, data, now)
    return contact


def _update(store: Store, contact: Contact, data: ContactData, now: datetime) -> None:
    """Fields the data gives replace the stored ones; absent ones are kept."""
    seal = store.cipher.seal
    if data.email is not None:
        contact.email = seal(data.email, "contact.email")
        contact.email_index = store.cipher.blind_index(data.email, "email")
    if data.first_name is not None:
        contact.first_name = seal(data.first_name, "contact.first_name")
    if data.last_name is not None:
        contact.last_name = seal(data.last_name, "contact.last_name")
    if data.attributes:
        known = (
            json.loads(store.cipher.open(contact.attributes, "contact.attributes"))
            if contact.attributes
            else {}
        )
        contact.attributes = seal(json.dumps({**known, **data.attributes}), "contact.attributes")
    if data.tags:
        contact.tags = sorted(set(contact.tags or ()) | set(data.tags))
    contact.time_zone = data.time_zone or contact.time_zone
    contact.locale = data.locale or contact.locale
    contact.date_updated = now
