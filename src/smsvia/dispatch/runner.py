"""Everything a worker process runs: the channels, the outbox worker, receipts and callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from smsvia.channels.base import (
    AnsweredLate,
    Confirm,
    Inbound,
    MessageHeard,
    PartHeard,
    SmsChannel,
)
from smsvia.channels.mm7 import Mm7Channel, Mm7Config
from smsvia.channels.rcs import RbmChannel, RcsConfig
from smsvia.channels.smpp import SmppChannel, SmppConfig
from smsvia.dispatch.campaigns import CampaignRunner
from smsvia.dispatch.inbound import LONG_TEXT_WAIT, InboundSms
from smsvia.dispatch.late_answers import LateAnswers
from smsvia.dispatch.rcs import RcsFlow
from smsvia.dispatch.rcs_events import RcsEventProcessor
from smsvia.dispatch.receipts import ReceiptProcessor
from smsvia.dispatch.shared_rate import SharedBucket
from smsvia.dispatch.worker import Worker, WorkerConfig
from smsvia.domain.pricing import PriceBook
from smsvia.domain.quiet_hours import RuleBook
from smsvia.domain.receipt_ids import ReceiptIds
from smsvia.metrics import QUEUE_DEPTH
from smsvia.services.clock import utcnow
from smsvia.services.compliance import load_rules
from smsvia.services.delivery import Tracker
from smsvia.services.fanout import Fanout
from smsvia.services.media import MediaPipeline
from smsvia.services.quote import load_price_book
from smsvia.services.retention import Retention, prune
from smsvia.store import outbox
from smsvia.store import senders as sender_queries
from smsvia.store.context import Store
from smsvia.store.models import Connector
from smsvia.store.presence import Presence, WorkerSlot, new_owner
from smsvia.webhooks.dispatcher import WebhookConfig, WebhookDispatcher

log = logging.getLogger(__name__)

# The tables dispatch fills and reads as it goes; their statistics must keep up with them.
QUEUE_TABLES = (
    "messages",
    "message_parts",
    "message_events",
    "receipt_inbox",
    "webhook_deliveries",
    "webhook_attempts",
    "rcs_events",
)

ChannelFactory = Callable[[str, SmppConfig], SmsChannel]


@dataclass
class Dispatch:
    """Starts the SMS channels and the loops that feed and follow them; stops them cleanly."""

    store: Store
    worker_config: WorkerConfig = field(default_factory=WorkerConfig)
    webhook_config: WebhookConfig = field(default_factory=WebhookConfig)
    channel_factory: ChannelFactory = SmppChannel
    # Prices the automatic replies to keywords (STOP, HELP...).
    price_book: PriceBook = field(default_factory=load_price_book)
    # Quiet hours, checked again for marketing messages as they go out.
    rules: RuleBook = field(default_factory=load_rules)
    owner: str = field(default_factory=new_owner)
    # Campaign messages' preview links are built from it; their numbers read in this region.
    public_url: str = "http://127.0.0.1:8080"
    default_region: str = "US"
    # How often the connectors table is read again, so connectors added later start too.
    connector_refresh: float = 5.0
    # How often the queue tables' statistics are checked, where autovacuum is off.
    statistics_interval: float = 10.0
    # How often claims are checked for holders that died (taken over at once when found).
    takeover_interval: float = 2.0
    # MMS media from 127.0.0.1 and private networks (SMSVIA_ALLOW_PRIVATE_URLS): demo, tests.
    allow_private_urls: bool = False
    # What is pruned after how long (SMSVIA_RETAIN_*), checked this often.
    retention: Retention = field(default_factory=Retention)
    retention_interval: float = 3600.0
    # How long a customer's long text waits for missing parts, checked this often.
    long_text_wait: float = LONG_TEXT_WAIT
    long_text_interval: float = 10.0

    def __post_init__(self) -> None:
        config = replace(self.webhook_config, allow_private=self.allow_private_urls)
        self.webhooks = WebhookDispatcher(self.store, owner=self.owner, config=config)
        # Callbacks queued here are handed to our dispatcher as their transactions commit.
        self.tracker = Tracker(self.store, courier=self.webhooks)
        self.channels: dict[int, SmsChannel] = {}
        self.rcs_channels: dict[int, RbmChannel] = {}
        self.mms_channels: dict[int, Mm7Channel] = {}
        self._connector_ids: dict[str, int] = {}
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.worker: Worker | None = None
        self.receipts: ReceiptProcessor | None = None
        self.rcs_events: RcsEventProcessor | None = None
        self.inbound: InboundSms | None = None
        self.late_answers = LateAnswers(self.store, self.tracker, self._connector_ids)
        self.presence = Presence(self.store.db, self.owner)
        self.slot = WorkerSlot(self.store.db, self.owner)

    async def start(self) -> None:
        self.slot.take()
        await self.presence.announce()
        self.receipts = ReceiptProcessor(self.store, self.tracker, self._connector_ids)
        # A restart takes over what its predecessor held before it claims anything.
        await self.take_over_dead_claims()
        self.inbound = InboundSms(
            self.store, self.tracker, self.price_book, long_text_wait=self.long_text_wait
        )
        await self._start_new_channels()
        self.worker = Worker(
            self.store,
            self.channels,
            self.tracker,
            owner=self.owner,
            config=self.worker_config,
            rcs=RcsFlow(self.store, self.rcs_channels, self.tracker),
            rules=self.rules,
            mms_channels=self.mms_channels,
            media=MediaPipeline(self.store, allow_private=self.allow_private_urls),
            public_url=self.public_url,
        )
        self.rcs_events = RcsEventProcessor(self.store, self.tracker, self.price_book)
        self.campaigns = CampaignRunner(
            Fanout(
                self.store,
                self.price_book,
                self.rules,
                self.public_url,
                self.default_region,
            )
        )
        self._tasks = [
            asyncio.create_task(self.worker.run(self._stop), name="worker"),
            asyncio.create_task(self.receipts.run(self._stop), name="receipts"),
            asyncio.create_task(self.webhooks.run(self._stop), name="webhooks"),
            asyncio.create_task(self.rcs_events.run(self._stop), name="rcs-events"),
            asyncio.create_task(self.campaigns.run(self._stop), name="campaigns"),
            asyncio.create_task(self._gauge_queue(), name="queue-depth"),
            asyncio.create_task(
                self._every(
                    self.connector_refresh, self._start_new_channels, "could not read connectors"
                ),
                name="connectors",
            ),
            asyncio.create_task(
                self._every(
                    self.takeover_interval,
                    self.take_over_dead_claims,
                    "could not look for claims of dead workers",
                ),
                name="takeover",
            ),
            asyncio.create_task(
                self._every(self.retention_interval, self._prune, "could not prune"),
                name="retention",
            ),
            asyncio.create_task(
                self._every(
                    self.long_text_interval,
                    self.inbound.sweep,
                    "could not receive overdue long texts or forget old notes",
                ),
                name="long-texts",
            ),
        ]
        if not await self.store.db.autovacuum():
            log.warning(
                "PostgreSQL's autovacuum is off: dispatch analyzes its queue tables itself "
                "as they change; turn autovacuum on, or vacuum them regularly"
            )
            self._tasks.append(
                asyncio.create_task(
                    self._every(
                        self.statistics_interval,
                        self._analyze_queue_tables,
                        "could not analyze the queue tables",
                    ),
                    name="statistics",
                )
            )
        log.info("dispatch started with %d connector(s)", len(self.channels))

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
        for channel in self.channels.values():
            await channel.close()
        if self.inbound is not None:
            await self.inbound.close()
        for rcs in self.rcs_channels.values():
            await rcs.close()
        for mms in self.mms_channels.values():
            await mms.close()
        await self.webhooks.close()
        await self.presence.close()
        self.slot.release()

    async def take_over_dead_claims(self) -> int:
        """End the claims of workers that are gone, so they are taken now rather than when
        their leases run out; returns how many claims ended."""
        now = utcnow()
        async with self.store.db.transaction() as session:
            dead = await self.presence.dead(await outbox.lease_holders(session, now))
            if not dead:
                return 0
            ended = await outbox.expire_leases_of(session, dead, now)
            await self.store.signal.notify(session)
        if self.receipts is not None:
            # Receipts the dead stored and never matched: matched now, not in UNTRIED_AFTER.
            self.receipts.take_over_untried(now)
        log.warning("took over %d claims of %s (gone)", ended, ", ".join(sorted(dead)))
        return ended

    async def _start_new_channels(self) -> None:
        """Start a channel for every connector that has none yet."""
        from smsvia.services.senders import connector_password

        assert self.receipts is not None
        async with self.store.db.sessions() as session:
            connectors = await sender_queries.all_connectors(session)
        for connector in connectors:
            if connector.kind == "rcs" and connector.id not in self.rcs_channels:
                self.rcs_channels[connector.id] = self._rcs_channel(connector)
                log.info("RCS connector %s started", connector.name)
            if connector.kind == "mm7" and connector.id not in self.mms_channels:
                # Its delivery reports name the relay's MessageIDs exactly.
                self.receipts.configure(connector.id, ReceiptIds.EXACT)
                self._connector_ids[connector.name] = connector.id
                self.mms_channels[connector.id] = await self._mm7_channel(connector)
                log.info("MM7 connector %s started", connector.name)
            if connector.kind != "smpp":
                continue
            settings = connector.settings
            self.receipts.configure(
                connector.id, ReceiptIds(settings.get("receipt_ids", ReceiptIds.AUTO))
            )
            if connector.id in self.channels:
                continue
            config = SmppConfig(
                host=settings["host"],
                port=int(settings["port"]),
                system_id=settings["system_id"],
                password=await connector_password(self.store, connector),
                tps=int(settings.get("tps", 50)),
                window=int(settings.get("window", 10)),
                tls=bool(settings.get("tls", False)),
                tls_ca=settings.get("tls_ca"),
                system_type=settings.get("system_type", ""),
                enquire_link_interval=float(settings.get("enquire_link_interval", 30)),
                response_timeout=float(settings.get("response_timeout", 30)),
                throttle=self._shared_throttle(connector.id, int(settings.get("tps", 50))),
            )
            channel = self.channel_factory(connector.name, config)
            self._connector_ids[connector.name] = connector.id
            await channel.start(self._heard)
            self.channels[connector.id] = channel
            log.info("connector %s started", connector.name)

    def _shared_throttle(self, connector_id: int, tps: int) -> SharedBucket | None:
        """On PostgreSQL every worker draws from one bucket per connector; SQLite has one
        worker, whose channel keeps its own."""
        if self.store.db.url.startswith("postgresql"):
            return SharedBucket(self.store.db, connector_id, tps)
        return None

    def _heard(self, heard: Inbound) -> Awaitable[Confirm | None]:
        """What an SMSC sent us, a receipt or a message from a handset; the awaitable ends
        once it is stored (a plain function: no task a receipt)."""
        assert self.receipts is not None and self.inbound is not None
        if isinstance(heard, MessageHeard | PartHeard):
            return self.inbound.heard(heard)
        if isinstance(heard, AnsweredLate):
            return self.late_answers.heard(heard)
        return self.receipts.heard(heard)

    def _rcs_channel(self, connector: Connector) -> RbmChannel:
        settings = connector.settings
        config = RcsConfig(
            base_url=settings["base_url"],
            agent_id=settings["agent_id"],
            credentials_file=settings.get("credentials_file"),
            timeout=float(settings.get("timeout", 10.0)),
        )
        return RbmChannel(connector.name, config)

    async def _mm7_channel(self, connector: Connector) -> Mm7Channel:
        from smsvia.services.senders import Mm7Settings, connector_password

        settings = Mm7Settings.of(connector.settings)
        config = Mm7Config(
            url=settings.url,
            vasp_id=settings.vasp_id,
            vas_id=settings.vas_id,
            username=settings.username,
            password=await connector_password(self.store, connector),
            max_bytes=settings.max_bytes,
            timeout=settings.timeout,
        )
        return Mm7Channel(connector.name, config)

    async def _every(
        self, seconds: float, work: Callable[[], Awaitable[object]], failed: str
    ) -> None:
        """Run `work` every `seconds` until stopped; a failure is logged and tried again."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), seconds)
            if self._stop.is_set():
                return
            try:
                await work()
            except Exception:
                log.exception("%s; trying again later", failed)

    async def _prune(self) -> None:
        pruned = await prune(self.store, self.retention)
        if any(pruned.values()):
            log.info("pruned %s", ", ".join(f"{n} {kind}" for kind, n in pruned.items() if n))

    async def _analyze_queue_tables(self) -> None:
        analyzed = await self.store.db.analyze_changed(QUEUE_TABLES)
        if analyzed:
            log.info("analyzed %s", ", ".join(analyzed))

    async def _gauge_queue(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                async with self.store.db.sessions() as session:
                    QUEUE_DEPTH.set(await outbox.queue_depth(session, utcnow()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 5)
