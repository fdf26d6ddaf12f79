"""The long-lived things a process needs, opened once from the settings and closed at exit."""

from __future__ import annotations

from dataclasses import dataclass

from smsvia.config import Settings
from smsvia.domain.pricing import PriceBook
from smsvia.domain.quiet_hours import RuleBook
from smsvia.services.accounts import Authenticator
from smsvia.services.compliance import load_rules
from smsvia.services.contacts import fill_derived
from smsvia.services.intake import Intake
from smsvia.services.links import Visits
from smsvia.services.quote import load_price_book
from smsvia.services.rate_gate import RateGate
from smsvia.store.context import Store
from smsvia.store.crypto import Cipher, load_master_keys
from smsvia.store.database import Database
from smsvia.store.media import MediaFiles
from smsvia.store.notify import OutboxSignal
from smsvia.store.schema import upgrade


@dataclass
class Runtime:
    settings: Settings
    store: Store
    price_book: PriceBook
    authenticator: Authenticator
    intake: Intake  # new messages, group-committed
    rules: RuleBook  # quiet hours and caps by state
    visits: Visits  # taps on short links, group-committed
    gate: RateGate  # rate limits shared by every server process

    async def close(self) -> None:
        await self.store.credentials.close()
        await self.store.signal.close()
        await self.store.db.close()


def open_store(settings: Settings) -> Store:
    """The database and cipher the settings name (creating the master key if need be)."""
    configured = settings.master_key.get_secret_value() if settings.master_key else None
    cipher = Cipher(load_master_keys(configured, settings.data_dir))
    database = Database(settings.resolved_database_url)
    return Store(database, cipher, OutboxSignal(database), MediaFiles(settings.data_dir / "media"))


async def open_runtime(settings: Settings, *, migrate: bool = True) -> Runtime:
    store = open_store(settings)
    price_book = load_price_book(settings.price_book)
    if migrate:
        await upgrade(store.db)
        await fill_derived(store)
    rules = load_rules(settings.quiet_hours)
    return Runtime(
        settings,
        store,
        price_book,
        Authenticator(store),
        Intake(store, rules),
        rules,
        Visits(store),
        RateGate(store.db),
    )
