"""The demo set-up of `smsvia serve --demo`: an account, connectors to the built-in SMSC, RBM
and MMSC simulators and senders using them, created on the first run and found again later."""

from __future__ import annotations

from sqlalchemy import select

from smsvia.services.accounts import Credentials, acting_for, create_account
from smsvia.services.contacts import save_contact
from smsvia.services.optin import create_form, forms_of
from smsvia.services.segments import create_segment, list_segments
from smsvia.services.senders import (
    Mm7Settings,
    RcsSettings,
    SmppSettings,
    add_mm7_connector,
    add_number,
    add_rcs_connector,
    add_smpp_connector,
)
from smsvia.store import senders as sender_queries
from smsvia.store.context import Store
from smsvia.store.models import Account

DEMO_ACCOUNT = "smsvia demo"
SMSC_CONNECTOR = "demo-smsc"
SMSC_SYSTEM_ID = "smsvia-demo"
SMSC_PASSWORD = "demo"
RBM_CONNECTOR = "demo-rbm"
RBM_AGENT = "smsvia-demo-agent"
RBM_CLIENT_TOKEN = "smsvia-demo-client-token"
MMS_CONNECTOR = "demo-mmsc"
MMS_VASP = "smsvia-demo"
SENDER = "+15005550006"  # SMS, and MMS for pictures: the Twilio-style examples
RCS_SENDER = "+15005550008"  # RCS first, SMS as the fallback


async def prepare_demo(
    store: Store, smsc_host: str, smsc_port: int, rbm_url: str, mmsc_url: str
) -> Credentials:
    """The demo account's credentials, its sender wired to the simulators where they listen
    (their ports change from one run to the next)."""
    credentials = await _demo_account(store)
    async with store.db.transaction() as session:
        smsc = await sender_queries.connector_by_name(session, SMSC_CONNECTOR)
        if smsc is not None:
            smsc.settings = {**smsc.settings, "host": smsc_host, "port": smsc_port}
        rbm = await sender_queries.connector_by_name(session, RBM_CONNECTOR)
        if rbm is not None:
            rbm.settings = {**rbm.settings, "base_url": rbm_url}
        mmsc = await sender_queries.connector_by_name(session, MMS_CONNECTOR)
        if mmsc is not None:
            mmsc.settings = {**mmsc.settings, "url": mmsc_url}
    if smsc is None:
        settings = SmppSettings(smsc_host, smsc_port, SMSC_SYSTEM_ID, tps=1000, window=50)
        await add_smpp_connector(store, SMSC_CONNECTOR, settings, SMSC_PASSWORD)
    if rbm is None:
        await add_rcs_connector(
            store, RBM_CONNECTOR, RcsSettings(rbm_url, RBM_AGENT), RBM_CLIENT_TOKEN
        )
    if mmsc is None:
        await add_mm7_connector(store, MMS_CONNECTOR, Mm7Settings(mmsc_url, MMS_VASP), None)
    senders = ((SENDER, None, MMS_CONNECTOR), (RCS_SENDER, RBM_CONNECTOR, None))
    for sender, rcs_connector, mms_connector in senders:
        async with store.db.transaction() as session:
            registered = await sender_queries.number_by_phone(session, sender)
            if registered is not None and mms_connector and registered.mms_connector_id is None:
                # A demo data directory from before MMS: its sender gets the MMSC too.
                connector = await sender_queries.connector_by_name(session, mms_connector)
                registered.mms_connector_id = connector.id if connector else None
        if registered is None:
            await add_number(
                store,
                credentials.sid,
                sender,
                connector=SMSC_CONNECTOR,
                rcs_connector=rcs_connector,
                mms_connector=mms_connector,
            )
    return credentials


async def _demo_account(store: Store) -> Credentials:
    async with store.db.sessions() as session:
        account = await session.scalar(
            select(Account).where(Account.friendly_name == DEMO_ACCOUNT).order_by(Account.id)
        )
    if account is None:
        return await create_account(store, DEMO_ACCOUNT)
    return Credentials(account.sid, store.cipher.open(account.auth_token, f"account:{account.sid}"))


DISCLOSURE = (
    "I agree to receive recurring marketing text messages (cart reminders, offers) from the "
    "smsvia demo shop at the number above. Consent is not a condition of purchase. Msg "
    "frequency varies. Msg & data rates may apply. Reply STOP to cancel, HELP for help."
)


async def demo_form(store: Store, account_sid: str) -> str:
    """The demo shop's opt-in form, created on the first run."""
    existing = await forms_of(store, account_sid)
    if existing:
        return existing[0].sid
    form = await create_form(
        store, account_sid, sender=SENDER, brand="smsvia demo shop", disclosure=DISCLOSURE
    )
    return form.sid


AUDIENCE = "Demo customers"
CUSTOMERS = (("+14155550100", "Ada"), ("+14155550101", "Grace"), ("+14155550102", "Zoë"))


async def demo_audience(store: Store, account_sid: str) -> None:
    """Three customers who agreed to marketing texts at the demo shop's checkout, and a
    segment of them, created on the first run: a campaign can go out at once."""
    principal = await acting_for(store, account_sid, via="demo")
    listed = await list_segments(store, principal, page_size=100)
    if any(segment.name == AUDIENCE for segment in listed.segments):
        return
    for phone, name in CUSTOMERS:
        await save_contact(
            store,
            principal,
            {
                "phone": phone,
                "first_name": name,
                "tags": "customer",
                "consent": "yes",
                "consent_date": "2026-11-01",
                "consent_source": "demo checkout",
            },
        )
    await create_segment(
        store,
        principal,
        AUDIENCE,
        "all",
        [{"field": "tags", "op": "contains", "value": "customer"}],
    )
