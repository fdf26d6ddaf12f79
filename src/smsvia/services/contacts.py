"""Contacts: kept sealed, found by blind index; the contacts resource of the native API.

Saving a contact also keeps what segments match on in step: the blind indexes of its first
name and custom attributes, the country and state of its number, and where it stands on the
consent ledger. CSV imports are in contact_import.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain import consent as rules_of_consent
from smsvia.domain import ids
from smsvia.domain.consent import ConsentKind
from smsvia.domain.contacts import ContactData, InvalidContact, parse_contact
from smsvia.domain.errors import NotFound
from smsvia.domain.phone import parse_phone
from smsvia.services import compliance, consent
from smsvia.services.accounts import Principal
from smsvia.services.clock import Clock, utcnow
from smsvia.services.paging import window
from smsvia.store import audiences
from smsvia.store import consent as consent_queries
from smsvia.store import contacts as queries
from smsvia.store.context import Store
from smsvia.store.marketing_models import Contact


async def record_evidence(
    session: AsyncSession,
    store: Store,
    account_id: int,
    evidence: dict[str, consent.NewConsent],
    now: datetime,
) -> tuple[int, int, int]:
    """Write imported consent (by phone index) to the ledger where it adds something:
    (written, already known, ignored because the number opted out)."""
    phones = store.cipher.indexes([entry.phone for entry in evidence.values()], "phone")
    standing = await consent_queries.standings(
        session, account_id, phones, rules_of_consent.DECIDING, rules_of_consent.EXPRESS
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
    return (await upsert_many(session, store, account_id, {index: data}, now))[index]


async def upsert_many(
    session: AsyncSession,
    store: Store,
    account_id: int,
    wanted: Mapping[str, ContactData],
    now: datetime,
) -> dict[str, tuple[Contact, bool]]:
    """Contacts by phone index, created or updated, with one look for the existing ones."""
    phones = store.cipher.indexes([data.phone for data in wanted.values()], "phone")
    existing = await queries.contacts_by_phone_index(session, account_id, phones)
    saved: dict[str, tuple[Contact, bool]] = {}
    attributes: dict[Contact, dict[str, str]] = {}
    for index, data in wanted.items():
        contact = existing.get(index)
        if contact is None:
            contact = _new_contact(store, account_id, index, data, now)
            session.add(contact)
            saved[index] = (contact, True)
        else:
            saved[index] = (contact, False)
        merged = _update(store, contact, data, now)
        if merged is not None:
            attributes[contact] = merged
    await session.flush()
    await audiences.replace_attributes(
        session,
        store.cipher.blind_index,
        account_id,
        {contact.id: values for contact, values in attributes.items()},
    )
    created = [wanted[i].phone for i, (_, new) in saved.items() if new]
    await consent.sync_contacts(session, account_id, store.cipher.indexes(created, "phone"))
    return saved


async def fill_derived(store: Store, *, batch: int = 1000) -> int:
    """Fill the columns segments match on for contacts saved before they existed (country
    NULL): place, first-name and attribute indexes, consent standing. Idempotent; returns
    how many contacts it filled."""
    filled = 0
    while True:
        async with store.db.transaction() as session:
            contacts = await queries.underived(session, batch)
            if not contacts:
                return filled
            attributes: dict[int, dict[str, str]] = {}
            phones: dict[int, str] = {}
            for contact in contacts:
                phones[contact.id] = store.cipher.open(contact.phone, "contact.phone")
                contact.country, contact.state = derived_place(phones[contact.id])
                if contact.first_name is not None:
                    contact.first_name_index = audiences.first_name_index(
                        store.cipher.blind_index,
                        store.cipher.open(contact.first_name, "contact.first_name"),
                    )
                if contact.attributes is not None:
                    opened = store.cipher.open(contact.attributes, "contact.attributes")
                    attributes[contact.id] = json.loads(opened)
            for account_id in {contact.account_id for contact in contacts}:
                mine = [c for c in contacts if c.account_id == account_id]
                await audiences.replace_attributes(
                    session,
                    store.cipher.blind_index,
                    account_id,
                    {c.id: attributes[c.id] for c in mine if c.id in attributes},
                )
                mine_phones = store.cipher.indexes([phones[c.id] for c in mine], "phone")
                await consent.sync_contacts(session, account_id, mine_phones)
            filled += len(contacts)


def imported_consent(
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
    country, state = derived_place(data.phone)
    return Contact(
        sid=ids.new_sid(ids.CONTACT),
        account_id=account_id,
        phone=store.cipher.seal(data.phone, "contact.phone"),
        phone_index=index,
        country=country,
        state=state,
        tags=[],
        consent="none",
        marketing_allowed=False,
        orders_count=0,
        total_spent=Decimal(0),
        date_created=now,
    )


def derived_place(e164: str) -> tuple[str, str | None]:
    """The country of a number and, for a US number, its area code's state."""
    phone = parse_phone(e164, strict=False)
    return phone.region, compliance.state_of(phone)


def _update(
    store: Store, contact: Contact, data: ContactData, now: datetime
) -> dict[str, str] | None:
    """Fields the data gives replace the stored ones; absent ones are kept. Returns all of
    the contact's attributes when they changed."""
    seal = store.cipher.seal
    merged = None
    if data.email is not None:
        contact.email = seal(data.email, "contact.email")
        contact.email_index = audiences.email_index(store.cipher.blind_index, data.email)
    if data.first_name is not None:
        contact.first_name = seal(data.first_name, "contact.first_name")
        contact.first_name_index = audiences.first_name_index(
            store.cipher.blind_index, data.first_name
        )
    if data.last_name is not None:
        contact.last_name = seal(data.last_name, "contact.last_name")
    if data.attributes:
        known = (
            json.loads(store.cipher.open(contact.attributes, "contact.attributes"))
            if contact.attributes
            else {}
        )
        merged = {**known, **data.attributes}
        contact.attributes = seal(json.dumps(merged), "contact.attributes")
    if data.tags:
        contact.tags = sorted(set(contact.tags or ()) | set(data.tags))
    contact.time_zone = data.time_zone or contact.time_zone
    contact.locale = data.locale or contact.locale
    contact.date_updated = now
    return merged


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
            entry = imported_consent(data, where, source="api", disclosure=disclosure)
            await record_evidence(
                session, store, principal.account_id, {contact.phone_index: entry}, now
            )
    return contact_view(store, contact), created


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
    return contact_view(store, contact)


async def get_contact(store: Store, principal: Principal, sid: str) -> ContactView:
    async with store.db.sessions() as session:
        contact = await _owned(session, principal, sid)
    return contact_view(store, contact)


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
    asked = window(page_size, page_token, MAX_PAGE_SIZE)
    ring = store.cipher.lookup_indexes
    phones = ring(normalize_phone(phone, default_region), "phone") if phone else None
    emails = ring(email.strip().lower(), "email") if email else None
    async with store.db.sessions() as session:
        found = await queries.page_of_contacts(
            session,
            principal.account_id,
            phone_indexes=phones,
            email_indexes=emails,
            tag=tag.strip().lower() if tag else None,
            before_id=asked.before_id,
            limit=asked.limit,
        )
    shown, next_token = asked.page(found)
    return ContactPage([contact_view(store, contact) for contact in shown], next_token)


def normalize_phone(raw: str, default_region: str = "US") -> str:
    """E.164 of a number as a person typed it; InvalidContact names `phone` otherwise."""
    return parse_contact({"phone": raw}, default_region).phone


async def _owned(session: AsyncSession, principal: Principal, sid: str) -> Contact:
    contact = await queries.contact_by_sid(session, principal.account_id, sid)
    if contact is None:
        raise NotFound(f"The requested resource /v1/contacts/{sid} was not found")
    return contact


def contact_view(store: Store, contact: Contact) -> ContactView:
    def opened(value: bytes | None, purpose: str) -> str | None:
        return store.cipher.open(value, purpose) if value is not None else None

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
        consent=contact.consent,
        marketing=contact.marketing_allowed,
        date_created=contact.date_created,
        date_updated=contact.date_updated,
    )
