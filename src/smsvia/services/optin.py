"""Hosted opt-in forms and double opt-in.

A shop creates a form (brand, the exact disclosure text, the number that confirms). A
visitor who ticks the box and submits it becomes a contact, and the ledger records an
`opt_in_requested` entry with the page, IP address, user agent and the disclosure they saw;
the number texts "reply Y to confirm". Their Y (or YES), within a week and to that number,
records `opt_in_confirmed` pointing at the request, and a welcome text goes out. Only then
may marketing reach them (services/compliance.py).

Submitting the form again within ten minutes is recorded but sends no second text, so a
form cannot be used to flood someone's phone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.domain import ids
from smsvia.domain.consent import CONFIRM_WITHIN_DAYS, ConsentKind, is_confirmation
from smsvia.domain.contacts import InvalidContact, parse_contact
from smsvia.domain.errors import InvalidParameter, NotFound
from smsvia.domain.pricing import PriceBook
from smsvia.services import automatic, consent
from smsvia.services.clock import Clock, utcnow
from smsvia.services.contacts import upsert_contact
from smsvia.services.senders import normalize_sender
from smsvia.store import accounts as account_queries
from smsvia.store import consent as consent_queries
from smsvia.store import forms as queries
from smsvia.store import messages as message_queries
from smsvia.store import senders as sender_queries
from smsvia.store.context import Store
from smsvia.store.marketing_models import OptInForm
from smsvia.store.models import Message, Number

DEFAULT_CONFIRM = (
    "{brand}: reply Y to confirm you want our marketing texts. Msg frequency varies. "
    "Msg & data rates may apply. Reply STOP to cancel, HELP for help."
)
DEFAULT_WELCOME = (
    "{brand}: you're subscribed. Msg frequency varies. Msg & data rates may apply. "
    "Reply STOP to cancel, HELP for help."
)
RESEND_AFTER = timedelta(minutes=10)
MAX_BRAND = 100
MAX_DISCLOSURE = 2000
MAX_TEXT = 320  # two segments of GSM-7
# The entries a Y answers to: it confirms only when the newest of them is a request.
_STANDING = frozenset(
    {
        ConsentKind.OPT_IN_REQUESTED,
        ConsentKind.OPT_IN_CONFIRMED,
        ConsentKind.OPTED_OUT,
        ConsentKind.OPTED_BACK_IN,
        ConsentKind.IMPORTED,
    }
)


@dataclass(frozen=True, slots=True)
class FormView:
    sid: str
    brand: str
    disclosure: str
    sender: str
    confirm_text: str
    welcome_text: str
    active: bool

    def url(self, public_url: str) -> str:
        return f"{public_url.rstrip('/')}/optin/{self.sid}"

    def embed_html(self, public_url: str) -> str:
        """The snippet a shop pastes into its own pages."""
        return (
            f'<iframe src="{escape(self.url(public_url))}" title="{escape(self.brand)} text '
            'messages sign-up" style="border:0;width:100%;max-width:28rem;height:34rem" '
            'loading="lazy"></iframe>'
        )


@dataclass(frozen=True, slots=True)
class Submission:
    """What a visitor sent, and where from (the evidence)."""

    phone: str
    consent: bool
    first_name: str = ""
    email: str = ""
    ip: str = ""
    user_agent: str = ""
    page_url: str = ""


@dataclass(frozen=True, slots=True)
class Submitted:
    phone: str  # masked, for the thank-you page
    texted: bool  # False when a confirmation went out moments ago


async def create_form(
    store: Store,
    account_sid: str,
    *,
    sender: str,
    brand: str,
    disclosure: str,
    confirm_text: str | None = None,
    welcome_text: str | None = None,
    default_region: str = "US",
    clock: Clock = utcnow,
) -> FormView:
    brand, disclosure = brand.strip(), disclosure.strip()
    if not 0 < len(brand) <= MAX_BRAND:
        raise InvalidParameter(f"brand needs 1 to {MAX_BRAND} characters", code=21100)
    if not 0 < len(disclosure) <= MAX_DISCLOSURE:
        raise InvalidParameter(
            f"disclosure needs 1 to {MAX_DISCLOSURE} characters: the exact consent text "
            "shown beside the box",
            code=21100,
        )
    for name, text in (("confirm_text", confirm_text), ("welcome_text", welcome_text)):
        if text is not None and (len(text) > MAX_TEXT or "STOP" not in text):
            raise InvalidParameter(
                f"{name} must be at most {MAX_TEXT} characters and tell how to stop (STOP)",
                code=21100,
            )
    now = clock()
    async with store.db.transaction() as session:
        account = await account_queries.account_by_sid(session, account_sid)
        if account is None:
            raise NotFound(f"Account {account_sid} not found")
        number = await sender_queries.sender_of_account(
            session, account.id, normalize_sender(sender, default_region)
        )
        if number is None:
            raise InvalidParameter(
                f"{sender} is not one of this account's numbers", code=21606, field="From"
            )
        form = OptInForm(
            sid=ids.new_sid(ids.OPTIN_FORM),
            account_id=account.id,
            number_id=number.id,
            brand=brand,
            disclosure=disclosure,
            confirm_text=confirm_text,
            welcome_text=welcome_text,
            active=True,
            date_created=now,
            date_updated=now,
        )
        session.add(form)
    return _view(form, number)


async def forms_of(store: Store, account_sid: str) -> list[FormView]:
    async with store.db.sessions() as session:
        account = await account_queries.account_by_sid(session, account_sid)
        if account is None:
            raise NotFound(f"Account {account_sid} not found")
        return [_view(*row) for row in await queries.forms_of_account(session, account.id)]


async def public_form(store: Store, sid: str) -> FormView:
    async with store.db.sessions() as session:
        return _view(*await _active_form(session, sid))


async def _active_form(session: AsyncSession, sid: str) -> tuple[OptInForm, Number]:
    found = await queries.form_with_number(session, sid) if ids.is_sid(sid) else None
    if found is None or not found[0].active:
        raise NotFound(f"There is no sign-up form {sid}")
    return found


async def submit(
    store: Store,
    price_book: PriceBook,
    sid: str,
    submission: Submission,
    *,
    default_region: str = "US",
    clock: Clock = utcnow,
) -> Submitted:
    """Record the request for consent and text the confirmation (module doc)."""
    if not submission.consent:
        raise InvalidContact("Tick the box to agree to receive text messages.", field="consent")
    data = parse_contact(
        {"phone": submission.phone, "first_name": submission.first_name, "email": submission.email},
        default_region,
    )
    now = clock()
    async with store.db.transaction() as session:
        form, number = await _active_form(session, sid)
        await upsert_contact(session, store, form.account_id, data, now)
        before = await consent_queries.newest(
            session,
            form.account_id,
            store.cipher.lookup_indexes(data.phone, "phone"),
            {ConsentKind.OPT_IN_REQUESTED},
        )
        await consent.append(
            session,
            store,
            account_id=form.account_id,
            phone=data.phone,
            kind=ConsentKind.OPT_IN_REQUESTED,
            source="form",
            evidence={
                "form_sid": form.sid,
                "page_url": submission.page_url,
                "ip": submission.ip,
                "user_agent": submission.user_agent,
                "sender": number.phone_number,
            },
            disclosure=form.disclosure,
            now=now,
        )
        texted = before is None or now - before.at >= RESEND_AFTER
        if texted:
            view = _view(form, number)
            account_sid = await _account_sid(session, form.account_id)
            await automatic.send(
                session, store, price_book, number, account_sid, data.phone, view.confirm_text, now
            )
    return Submitted(_masked(data.phone), texted)


async def confirm_if_pending(
    session: AsyncSession,
    store: Store,
    price_book: PriceBook,
    *,
    number: Number,
    message: Message,
    handset: str,
    text: str,
    now: datetime,
) -> bool:
    """When `text` is a Y answering this number's open request, confirm it (inside the
    caller's transaction) and send the welcome; True when it did."""
    if not is_confirmation(text):
        return False
    indexes = store.cipher.lookup_indexes(handset, "phone")
    request = await consent_queries.newest(session, number.account_id, indexes, _STANDING)
    if (
        request is None
        or request.kind != ConsentKind.OPT_IN_REQUESTED
        or now - request.at > timedelta(days=CONFIRM_WITHIN_DAYS)
    ):
        return False
    asked = json.loads(store.cipher.open(request.evidence, "consent.evidence"))
    if asked.get("sender") != number.phone_number:
        return False
    found = await queries.form_with_number(session, asked.get("form_sid", ""))
    await consent.append(
        session,
        store,
        account_id=number.account_id,
        phone=handset,
        kind=ConsentKind.OPT_IN_CONFIRMED,
        source="keyword",
        evidence={
            "message_sid": message.sid,
            "text": text,
            "to": number.phone_number,
            "request_entry": request.id,
            "form_sid": asked.get("form_sid"),
        },
        disclosure=request.disclosure,
        now=now,
    )
    message_queries.record_event(
        session,
        message.id,
        now,
        "keyword",
        f"double opt-in confirmed (ledger entry {request.id} requested it)",
    )
    if found is not None:
        welcome = _view(*found).welcome_text
        account_sid = await _account_sid(session, number.account_id)
        await automatic.send(session, store, price_book, number, account_sid, handset, welcome, now)
    return True


def _view(form: OptInForm, number: Number) -> FormView:
    return FormView(
        sid=form.sid,
        brand=form.brand,
        disclosure=form.disclosure,
        sender=number.phone_number,
        confirm_text=form.confirm_text or DEFAULT_CONFIRM.format(brand=form.brand),
        welcome_text=form.welcome_text or DEFAULT_WELCOME.format(brand=form.brand),
        active=form.active,
    )


async def _account_sid(session: AsyncSession, account_id: int) -> str:
    account = await account_queries.account_by_id(session, account_id)
    assert account is not None
    return account.sid


def _masked(phone: str) -> str:
    return phone[:2] + "•" * (len(phone) - 6) + phone[-4:]
