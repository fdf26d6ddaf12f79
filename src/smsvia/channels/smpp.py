"""SMPP 3.4 channel: smpp34 (a Rust-backed codec and session) behind our own adapter.

The adapter adds what the library leaves to us: the window of unanswered submits (smpp34
does not enforce its own), the TPS limit, reconnecting with backoff, mapping command
statuses to outcomes, and telling a lost answer (ambiguous) from a refusal. The rest of the
server sees `submit`, `close` and domain results, never PDUs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass, field

import smpp34

from smsvia.channels.base import (
    InboundHandler,
    MessageHeard,
    PartOutcome,
    PartResult,
    ReceiptHeard,
    SmsSubmission,
)
from smsvia.channels.throttle import Throttle, TokenBucket
from smsvia.domain.encoding import parse_part
from smsvia.domain.errors import DomainError
from smsvia.domain.receipts import NotAReceipt, is_receipt, parse_receipt

log = logging.getLogger(__name__)

ESME_RSYSERR = 0x08
ESME_RINVSRCADR = 0x0A
ESME_RINVDSTADR = 0x0B
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
_STATUS = re.compile(r"\(0x([0-9A-Fa-f]{8})\)")
# deliver_sm asked for ahead of the one being handled (see _read_until_disconnected).
_READ_AHEAD = 64
_SETTLE_AFTER_DISCONNECT = 0.05

# Statuses worth trying again later; anything else unexpected is a refusal.
_RETRY = {ESME_RSYSERR, ESME_RMSGQFUL, ESME_RTHROTTLED, 0x45, 0x64}  # + RSUBMITFAIL, RX_T_APPN
_REJECTIONS = {
    ESME_RINVDSTADR: (21211, "the SMSC refused the destination address (ESME_RINVDSTADR)"),
    ESME_RINVSRCADR: (21606, "the SMSC refused the source address (ESME_RINVSRCADR)"),
}


@dataclass(frozen=True, slots=True)
class SmppConfig:
    host: str
    port: int
    system_id: str
    password: str
    tps: int = 50
    window: int = 10
    tls: bool = False
    system_type: str = ""
    connect_timeout: float = 10.0
    response_timeout: float = 30.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    # deliver_sm smpp34 holds for us before it refuses more (ESME_RMSGQFUL). Its refusal is
    # malformed in 1.5.0 (command_length 16, 17 octets written), which desynchronises the
    # SMSC's reader, so the buffer is made deep enough never to fill.
    inbound_capacity: int = 100_000
    # The submit rate limit, when it is shared with other processes; None: `tps` here alone.
    throttle: Throttle | None = field(default=None, compare=False)


class SmppChannel:
    def __init__(self, name: str, config: SmppConfig) -> None:
        self.name = name
        self.config = config
        self._window = asyncio.Semaphore(config.window)
        self._bucket: Throttle = config.throttle or TokenBucket(config.tps)
        self._session: smpp34.Smsc | None = None
        self._client: smpp34.Client | None = None
        self._bound = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._on_inbound: InboundHandler | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        self.binds = 0
        self.last_error: str | None = None

    @property
    def connected(self) -> bool:
        return self._bound.is_set()

    async def start(self, on_inbound: InboundHandler) -> None:
        self._on_inbound = on_inbound
        self._task = asyncio.create_task(self._stay_bound(), name=f"smpp:{self.name}")

    async def wait_bound(self, timeout: float) -> bool:
        if self.connected:  # the usual case, for every part: no timer, no task
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._bound.wait()
        return self.connected

    async def submit(self, submission: SmsSubmission) -> list[PartResult]:
        """Submit the parts in order; stop at the first that does not go through."""
        results: list[PartResult] = []
        for index, part in enumerate(submission.parts):
            result = await self._submit_part(submission, part)
            results.append(result)
            if result.outcome != PartOutcome.ACCEPTED:
                results.extend(
                    PartResult(later.sequence, PartOutcome.NOT_SENT, detail="earlier part failed")
                    for later in submission.parts[index + 1 :]
                )
                break
        return results

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._disconnect()

    # -- submitting ----------------------------------------------------------------------

    async def _submit_part(self, submission: SmsSubmission, part) -> PartResult:
        if not await self.wait_bound(self.config.connect_timeout):
            return PartResult(part.sequence, PartOutcome.NOT_SENT, detail=self._why_unbound())
        await self._bucket.acquire()
        async with self._window:
            if not self.connected:
                return PartResult(part.sequence, PartOutcome.NOT_SENT, detail="connection lost")
            gate = submission.gate
            if gate is None:
                return await self._write(submission, part)
            # In the window already: the intent is written only for a part about to go out.
            if not await gate.writing(part.sequence):
                return PartResult(
                    part.sequence, PartOutcome.NOT_SENT, detail="no longer this worker's to send"
                )
            result = await self._write(submission, part)
            gate.answered(result)
            return result

    async def _write(self, submission: SmsSubmission, part) -> PartResult:
        """One submit_sm and its answer (the caller holds a window slot)."""
        session = self._session
        if session is None or not self.connected:
            return PartResult(part.sequence, PartOutcome.NOT_SENT, detail="connection lost")
        try:
            # asyncio.timeout, not wait_for: no task per submit
            async with asyncio.timeout(self.config.response_timeout):
                response = await session.submit_sm(
                    _address(submission.destination),
                    part.short_message,
                    source_addr=_address(submission.source),
                    source_addr_ton=_ton(submission.source),
                    source_addr_npi=1 if _ton(submission.source) != 5 else 0,
                    dest_addr_ton=1,
                    dest_addr_npi=1,
                    esm_class=part.esm_class,
                    data_coding=part.data_coding,
                    registered_delivery=1 if submission.want_receipt else 0,
                )
        except TimeoutError:
            return PartResult(part.sequence, PartOutcome.AMBIGUOUS, detail="no submit_sm_resp")
        except smpp34.SmppError as exc:
            return await self._failed(part.sequence, exc)
        if response.is_success and response.message_id:
            return PartResult(part.sequence, PartOutcome.ACCEPTED, response.message_id)
        return self._refused(part.sequence, response.command_status)

    async def _failed(self, sequence: int, exc: smpp34.SmppError) -> PartResult:
        status = _status_of(exc)
        # smpp34 reports a connection lost under an unanswered submit as ESME_RSYSERR; only
        # the session's state tells it from an SMSC that really answered RSYSERR.
        if status in (None, ESME_RSYSERR) and not await self._alive():
            self._connection_lost()
            return PartResult(
                sequence, PartOutcome.AMBIGUOUS, detail=f"connection lost awaiting answer: {exc}"
            )
        return self._refused(sequence, status if status is not None else ESME_RSYSERR)

    def _refused(self, sequence: int, status: int) -> PartResult:
        name = f"0x{status:08X}"
        if status == ESME_RTHROTTLED:
            self._bucket.pause(1.0)
            return PartResult(sequence, PartOutcome.RETRY, detail="ESME_RTHROTTLED: slowing down")
        if status in _REJECTIONS:
            code, detail = _REJECTIONS[status]
            return PartResult(sequence, PartOutcome.REJECTED, error_code=code, detail=detail)
        if status in _RETRY:
            return PartResult(sequence, PartOutcome.RETRY, detail=f"SMSC answered {name}")
        return PartResult(
            sequence, PartOutcome.REJECTED, error_code=30008, detail=f"SMSC refused with {name}"
        )

    def _connection_lost(self) -> None:
        """Stop submitting at once and make sure the reading loop ends, so that
        `_stay_bound` reconnects (smpp34 may report the end of the session late)."""
        if not self._bound.is_set():
            return
        self._bound.clear()
        client = self._client
        if client is not None:
            task = asyncio.ensure_future(_stop_quietly(client))
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def _alive(self) -> bool:
        client = self._client
        if client is None:
            return False
        try:
            return bool(await client.is_alive())
        except Exception:
            return False

    # -- the connection ------------------------------------------------------------------

    async def _stay_bound(self) -> None:
        delay = self.config.backoff_initial
        while not self._closed:
            try:
                await self._bind()
                delay = self.config.backoff_initial
                await self._read_until_disconnected()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("connector %s: %s; retrying in %.1fs", self.name, exc, delay)
            self._bound.clear()
            await self._disconnect()
            if self._closed:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.config.backoff_max)

    async def _bind(self) -> None:
        config = self.config
        self._client = smpp34.Client(
            config.host,
            config.port,
            config.system_id,
            config.password,
            bind_type="TRX",
            system_type=config.system_type,
            tls=config.tls,
            window_size=config.window,
            inbound_capacity=config.inbound_capacity,
            connect_timeout_ms=int(config.connect_timeout * 1000),
        )
        try:
            self._session = await self._client.connect()
        except smpp34.SmppError as exc:
            # smpp34 shows a refused bind as a timeout; say both, we cannot tell them apart.
            raise ConnectionError(
                f"cannot bind to {config.host}:{config.port} as {config.system_id} ({exc}): "
                "SMSC unreachable or credentials refused"
            ) from exc
        self.binds += 1
        self.last_error = None
        self._bound.set()
        log.info("connector %s bound to %s:%s", self.name, config.host, config.port)

    async def _read_until_disconnected(self) -> None:
        session = self._session
        assert session is not None
        # Each `next()` is a future settled from smpp34's own threads, one turn of our event
        # loop apiece: asked one at a time, receipts came no faster than a busy worker's
        # loop turned (a few hundred a second) while the SMSC had long sent them. Asked
        # ahead, one turn settles as many as are waiting. They are taken as they settle:
        # which of the asked futures gets the next deliver_sm is smpp34's threads' race,
        # so two close together may swap places, as an SMSC's own window lets them.
        settled: asyncio.Queue[asyncio.Future] = asyncio.Queue()
        asked: set[asyncio.Future] = set()

        def ask() -> None:
            future = session.next()
            asked.add(future)
            future.add_done_callback(settled.put_nowait)

        for _ in range(_READ_AHEAD):
            ask()
        try:
            while True:
                future = await settled.get()
                asked.discard(future)
                event = future.result()
                if isinstance(event, smpp34.Disconnected):
                    log.warning("connector %s: disconnected", self.name)
                    self._bound.clear()  # no submit into the dead session meanwhile
                    await self._dispatch_settled(settled)
                    return
                ask()
                await self._dispatch(event)
        finally:
            for future in asked:
                future.cancel()

    async def _dispatch_settled(self, settled: asyncio.Queue[asyncio.Future]) -> None:
        """What smpp34 handed over just before the session ended (it has acknowledged
        them to the SMSC already): a moment lets futures it settled on its other threads
        reach the loop before the rest are cancelled."""
        await asyncio.sleep(_SETTLE_AFTER_DISCONNECT)
        while not settled.empty():
            event = settled.get_nowait().result()
            if not isinstance(event, smpp34.Disconnected):
                await self._dispatch(event)

    async def _dispatch(self, event: smpp34.DeliverSmEvent) -> None:
        try:
            heard = self._heard(event)
        except (NotAReceipt, DomainError, ValueError) as exc:
            log.warning("connector %s: unreadable deliver_sm ignored: %s", self.name, exc)
            return
        if self._on_inbound is not None:
            try:
                await self._on_inbound(heard)
            except Exception:
                log.exception("connector %s: inbound handler failed", self.name)

    def _heard(self, event: smpp34.DeliverSmEvent) -> ReceiptHeard | MessageHeard:
        tlvs = {tlv.tag: tlv for tlv in event.tlvs}
        if is_receipt(event.esm_class):
            receipted = tlvs.get(smpp34.TLV_RECEIPTED_MESSAGE_ID)
            state = tlvs.get(smpp34.TLV_MESSAGE_STATE)
            receipt = parse_receipt(
                event.short_message,
                receipted.value if receipted else None,
                state.as_int() if state else None,
            )
            return ReceiptHeard(self.name, receipt, _e164(event.source_addr))
        part = parse_part(event.short_message, event.data_coding, event.esm_class)
        return MessageHeard(
            self.name, _e164(event.source_addr), _e164(event.destination_addr), part.text()
        )

    async def _disconnect(self) -> None:
        session, client = self._session, self._client
        self._session = self._client = None
        if session is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(session.unbind(), 2)
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.stop(), 2)

    def _why_unbound(self) -> str:
        return f"not bound to the SMSC ({self.last_error or 'connecting'})"


async def _stop_quietly(client: smpp34.Client) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.stop(), 2)


def _status_of(exc: smpp34.SmppError) -> int | None:
    match = _STATUS.search(str(exc))
    return int(match.group(1), 16) if match else None


def _ton(address: str) -> int:
    """International (1) for +E.164, alphanumeric (5) for sender IDs."""
    if address.startswith("+") or address.isdigit():
        return 1
    return 5


def _address(value: str) -> str:
    """SMPP carries international numbers as digits, the TON saying they are international."""
    return value[1:] if value.startswith("+") and value[1:].isdigit() else value


def _e164(value: str) -> str:
    return f"+{value}" if value.isdigit() else value
