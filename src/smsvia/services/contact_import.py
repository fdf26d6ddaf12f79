"""Contacts imported from CSV files of any size.

An import streams the file: rows are read, checked and written a batch at a time, so a
million-row file takes as much memory as one batch. A bad row (bad number, bad date, wrong
column count) goes to the error report with its row number and why; it never stops the rows
around it. A contact that exists (same number) is updated; imported evidence of consent
becomes a consent ledger entry, unless the ledger already holds consent for that number (a
re-import adds nothing) or the number opted out (an old file must never undo a STOP).
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

from smsvia.domain.contacts import ContactData, InvalidContact, parse_contact
from smsvia.domain.errors import InvalidParameter, NotFound
from smsvia.services.clock import Clock, utcnow
from smsvia.services.contacts import imported_consent, record_evidence, upsert_many
from smsvia.store import accounts as account_queries
from smsvia.store.context import Store

BATCH = 1000  # rows a transaction


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    consents: int = 0  # imported evidence written to the ledger
    consents_known: int = 0  # evidence for numbers whose consent the ledger already holds
    kept_opted_out: int = 0  # evidence ignored: the number opted out (STOP wins)


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
        batches = 0
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
                batches += 1
                if batches & (batches - 1) == 0:  # 1, 2, 4, 8, ...: as the tables double
                    await store.db.analyze("contacts", "consent_events")
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
        wanted = {index: data for index, (_, data) in latest.items()}
        saved = await upsert_many(session, store, account_id, wanted, now)
        created = sum(new for _, new in saved.values())
        report.created += created
        report.updated += len(saved) - created
        evidence = {
            index: imported_consent(data, {"file": source, "row": number})
            for index, (number, data) in latest.items()
            if data.consented_at is not None
        }
        written, known, opted_out = await record_evidence(session, store, account_id, evidence, now)
        report.consents += written
        report.consents_known += known
        report.kept_opted_out += opted_out
