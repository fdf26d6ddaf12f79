"""The demo set-up of `smsvia serve --demo`: an account, a connector to the built-in SMSC
simulator and a sender, created on the first run and found again on the next ones."""

from __future__ import annotations

from sqlalchemy import select

from smsvia.services.accounts import Credentials, create_account
from smsvia.services.senders import SmppSettings, add_number, add_smpp_connector
from smsvia.store import senders as sender_queries
from smsvia.store.context import Store
from smsvia.store.models import Account

DEMO_ACCOUNT = "smsvia demo"
SMSC_CONNECTOR = "demo-smsc"
SMSC_SYSTEM_ID = "smsvia-demo"
SMSC_PASSWORD = "demo"
SENDER = "+15005550006"


async def prepare_demo(store: Store, smsc_host: str, smsc_port: int) -> Credentials:
    """The demo account's credentials, with its sender wired to the simulator at the port."""
    credentials = await _demo_account(store)
    async with store.db.transaction() as session:
        connector = await sender_queries.connector_by_name(session, SMSC_CONNECTOR)
        if connector is not None:
            # The simulator may listen on another port than last time.
            connector.settings = {**connector.settings, "host": smsc_host, "port": smsc_port}
    if connector is None:
        settings = SmppSettings(smsc_host, smsc_port, SMSC_SYSTEM_ID, tps=1000, window=50)
        await add_smpp_connector(store, SMSC_CONNECTOR, settings, SMSC_PASSWORD)
    async with store.db.sessions() as session:
        registered = await sender_queries.number_by_phone(session, SENDER)
    if registered is None:
        await add_number(store, credentials.sid, SENDER, connector=SMSC_CONNECTOR)
    return credentials


async def _demo_account(store: Store) -> Credentials:
    async with store.db.sessions() as session:
        account = await session.scalar(
            select(Account).where(Account.friendly_name == DEMO_ACCOUNT).order_by(Account.id)
        )
    if account is None:
        return await create_account(store, DEMO_ACCOUNT)
    return Credentials(account.sid, store.cipher.open(account.auth_token, f"account:{account.sid}"))
