"""Contacts: kept sealed, found by blind index, imported from CSV files of any size.

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain import consent as rules_of_consent
from smsvia.domain import ids
from smsvia.domain.consent import ConsentKind
from smsvia.domain.contacts import ContactData, InvalidContact, parse_contact
from smsvia.domain.errors import InvalidParameter, NotFound
from smsvia.services import consent
from smsvia.services.accounts import Principal
from smsvia.services.clock import Clock, utcnow
from smsvia.services.paging import decode_token, encode_token
from smsvia.store import accounts as account_queries
from smsvia.store import consent as consent_queries
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
        saved = await _upsert_many(session, store, account_id, wanted, now)
        created = sum(new for _, new in saved.values())
        report.created += created
        report.updated += len(saved) - created
        evidence = {
            index: _imported_consent(data, {"file": source, "row": number})
            for index, (number, data) in latest.items()
            if data.consented_at is not None
        }
        written, known, opted_out = await _record_evidence(
            session, store, account_id, evidence, now
        )
        report.consents += written
        report.consents_known += known
        report.kept_opted_out += opted_out


async def _record_evidence(
    session: AsyncSession,
    store: Store,
    account_id: int,
    evidence: dict[str, consent.NewConsent],
    now: datetime,
) -> tuple[int, int, int]:
    """Write imported consent (by phone index) to the ledger where it adds something:
    (written, already known, ignored because the number opted out)."""
    standing = await consent_queries.standings(
        session, account_id, evidence, rules_of_consent.DECIDING, rules_of_consent.EXPRESS
    )
    new, known, opted_out = [], 0, 0
    for index, entry in evidence.items():
        held = standing.get(index)
        if held is not None and rules_of_consent.opted_out(held.kind):
            opted_out += 1  # evidence from elsewhere never overrides a STOP
        elif held is not None and held.express_given:
            known += 1  # already on the ledger: nothing new to prove
        else:
            new.append(entry)
    await consent.append_many(session, store, account_id, new, now)
    return len(new), known, opted_out


async def upsert_contact(
    session: AsyncSession, store: Store, account_id: int, data: ContactData, now: datetime
) -> tuple[Contact, bool]:
    """The account's contact with this number, created or updated; True when created."""
    index = store.cipher.blind_index(data.phone, "phone")
    return (await _upsert_many(session, store, account_id, {index: data}, now))[index]


async def _upsert_many(
    session: AsyncSession,
    store: Store,
    account_id: int,
    wanted: Mapping[str, ContactData],
    now: datetime,
) -> dict[str, tuple[Contact, bool]]:
    """Contacts by phone index, created or updated, with one look for the existing ones."""
    existing = await queries.contacts_by_phone_index(session, account_id, wanted)
    saved: dict[str, tuple[Contact, bool]] = {}
    for index, data in wanted.items():
        contact = existing.get(index)
        if contact is None:
            contact = _new_contact(store, account_id, index, data, now)
            session.add(contact)
            saved[index] = (contact, True)
        else:
            _update(store, contact, data, now)
            saved[index] = (contact, False)
    return saved


def _imported_consent(
    data: ContactData, where: dict[str, Any], *, source: str = "import", disclosure: str = ""
) -> consent.NewConsent:
    """Evidence of consent given elsewhere (a file's row, an API call), as a ledger entry."""
    assert data.consented_at is not None
    return consent.NewConsent(
        phone=data.phone,
        kind=ConsentKind.IMPORTED,
        source=source,
        evidence={
            **where,
            "consented_at": data.consented_at.isoformat(),
            "consent_source": data.consent_source or "",
        },
        disclosure=disclosure,
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


# -- the contacts resource (native API) ------------------------------------------------------

MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class ContactView:
    """A contact as callers see it, opened; `consent` is where its number stands."""

    sid: str
    phone: str
    email: str | None
    first_name: str | None
    last_name: str | None
    tags: list[str]
    attributes: dict[str, str]
    time_zone: str | None
    locale: str | None
    consent: str  # none | requested | opted_in | opted_out
    marketing: bool  # whether marketing may reach it now
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class ContactPage:
    contacts: list[ContactView]
    next_token: str | None


async def save_contact(
    store: Store,
    principal: Principal,
    values: Mapping[str, str | None],
    *,
    disclosure: str = "",
    evidence: dict[str, str] | None = None,
    default_region: str = "US",
    clock: Clock = utcnow,
) -> tuple[ContactView, bool]:
    """Create the contact, or update the one with the same number; True when created.

    Consent given elsewhere (`consent`, `consent_date`, `consent_source` among the values)
    goes to the ledger as import does, with the caller's credential, `evidence` (such as
    the caller's IP address) and the `disclosure` the person saw."""
    data = parse_contact(values, default_region)
    now = clock()
    async with store.db.transaction() as session:
        contact, created = await upsert_contact(session, store, principal.account_id, data, now)
        await session.flush()
        if data.consented_at is not None:
            where = {"api_credential": principal.via, **(evidence or {})}
            entry = _imported_consent(data, where, source="api", disclosure=disclosure)
            await _record_evidence(
                session, store, principal.account_id, {contact.phone_index: entry}, now
            )
        standing = await _standings(session, store, principal.account_id, [contact])
    return _contact_view(store, contact, standing), created


async def update_contact(
    store: Store,
    principal: Principal,
    sid: str,
    values: Mapping[str, str | None],
    *,
    default_region: str = "US",
    clock: Clock = utcnow,
) -> ContactView:
    """Change the fields given; the number stays (a new number is a new contact)."""
    async with store.db.transaction() as session:
        contact = await _owned(session, principal, sid)
        phone = store.cipher.open(contact.phone, "contact.phone")
        if values.get("phone") not in (None, phone):
            try:
                same = normalize_phone(values["phone"] or "", default_region) == phone
            except InvalidContact:
                same = False
            if not same:
                raise InvalidContact(
                    "phone cannot change: create a contact for the new number", field="phone"
                )
        _update(store, contact, parse_contact({**values, "phone": phone}, default_region), clock())
        standing = await _standings(session, store, principal.account_id, [contact])
    return _contact_view(store, contact, standing)


async def get_contact(store: Store, principal: Principal, sid: str) -> ContactView:
    async with store.db.sessions() as session:
        contact = await _owned(session, principal, sid)
        standing = await _standings(session, store, principal.account_id, [contact])
    return _contact_view(store, contact, standing)


async def delete_contact(store: Store, principal: Principal, sid: str) -> None:
    """Forget the contact. Its consent ledger entries stay: they are the record a regulator
    may ask for, and they hold only what the person did."""
    async with store.db.transaction() as session:
        await session.delete(await _owned(session, principal, sid))


async def list_contacts(
    store: Store,
    principal: Principal,
    *,
    phone: str | None = None,
    email: str | None = None,
    tag: str | None = None,
    page_size: int = 50,
    page_token: str | None = None,
    default_region: str = "US",
) -> ContactPage:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidParameter(
            f"page_size must be between 1 and {MAX_PAGE_SIZE}", code=21100, field="page_size"
        )
    phone_index = (
        store.cipher.blind_index(normalize_phone(phone, default_region), "phone") if phone else None
    )
    email_index = store.cipher.blind_index(email.strip().lower(), "email") if email else None
    async with store.db.sessions() as session:
        found = await queries.page_of_contacts(
            session,
            principal.account_id,
            phone_index=phone_index,
            email_index=email_index,
            tag=tag.strip().lower() if tag else None,
            before_id=decode_token(page_token, "page_token") if page_token else None,
            limit=page_size + 1,
        )
        shown = list(found[:page_size])
        standing = await _standings(session, store, principal.account_id, shown)
    more = len(found) > page_size
    return ContactPage(
        [_contact_view(store, contact, standing) for contact in shown],
        encode_token(shown[-1].id) if more else None,
    )


def normalize_phone(raw: str, default_region: str = "US") -> str:
    """E.164 of a number as a person typed it; InvalidContact names `phone` otherwise."""
    return parse_contact({"phone": raw}, default_region).phone


async def _owned(session: AsyncSession, principal: Principal, sid: str) -> Contact:
    contact = await queries.contact_by_sid(session, principal.account_id, sid)
    if contact is None:
        raise NotFound(f"The requested resource /v1/contacts/{sid} was not found")
    return contact


async def _standings(
    session: AsyncSession, store: Store, account_id: int, contacts: Sequence[Contact]
) -> dict[str, tuple[str, bool]]:
    """phone index -> (consent status, may get marketing), one query for them all."""
    indexes = [contact.phone_index for contact in contacts]
    kinds = rules_of_consent.DECIDING | {ConsentKind.OPT_IN_REQUESTED}
    newest = await consent_queries.standings(
        session, account_id, indexes, kinds, rules_of_consent.EXPRESS
    )
    result = {}
    for index, held in newest.items():
        status = {
            ConsentKind.OPTED_OUT: "opted_out",
            ConsentKind.OPT_IN_REQUESTED: "requested",
        }.get(ConsentKind(held.kind), "opted_in")
        result[index] = (status, rules_of_consent.may_market(held.kind, held.express_given))
    return result


def _contact_view(
    store: Store, contact: Contact, standing: Mapping[str, tuple[str, bool]]
) -> ContactView:
    def opened(value: bytes | None, purpose: str) -> str | None:
        return store.cipher.open(value, purpose) if value is not None else None

    status, marketing = standing.get(contact.phone_index, ("none", False))
    return ContactView(
        sid=contact.sid,
        phone=store.cipher.open(contact.phone, "contact.phone"),
        email=opened(contact.email, "contact.email"),
        first_name=opened(contact.first_name, "contact.first_name"),
        last_name=opened(contact.last_name, "contact.last_name"),
        tags=list(contact.tags or ()),
        attributes=json.loads(opened(contact.attributes, "contact.attributes") or "{}"),
        time_zone=contact.time_zone,
        locale=contact.locale,
        consent=status,
        marketing=marketing,
        date_created=contact.date_created,
        date_updated=contact.date_updated,
    )
