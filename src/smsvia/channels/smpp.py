"""SMPP 3.4 channel: our session on smpp34's codec (smpp_session.py) behind the adapter.

The adapter adds the window of unanswered submits, the TPS limit, reconnecting with backoff,
mapping command statuses to outcomes, and telling a lost answer (ambiguous) from a refusal;
an answer that comes after the part was given up on is handed on as `AnsweredLate`.
The rest of the server sees `submit`, `close` and domain results, never PDUs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
from collections.abc import Awaitable
from dataclasses import dataclass, field
from functools import partial

import smpp34

from smsvia.channels import smpp_wire as wire
from smsvia.channels.base import (
    AnsweredLate,
    Confirm,
    InboundHandler,
    MessageHeard,
    PartHeard,
    PartOutcome,
    PartResult,
    ReceiptHeard,
    SmsSubmission,
)
from smsvia.channels.smpp_session import (
    Answer,
    BindRefused,
    Endpoint,
    SessionClosed,
    SmppSession,
)
from smsvia.channels.throttle import Throttle, TokenBucket
from smsvia.domain.encoding import check_text_coding, parse_part, sar_part
from smsvia.domain.errors import DomainError
from smsvia.domain.phone import (
    TON_ALPHANUMERIC,
    TON_INTERNATIONAL,
    WrittenNumber,
    read_handset,
)
from smsvia.domain.receipts import NotAReceipt, is_receipt, parse_receipt

log = logging.getLogger(__name__)

# This process among all that ever bound, for naming links (MessageHeard.link).
_PROCESS = secrets.token_hex(6)
# SMPP 3.4 §5.3.2.22–24: a long message's reference, parts and place, as TLVs.
_SAR_TAGS = (
    smpp34.TLV_SAR_MSG_REF_NUM,
    smpp34.TLV_SAR_TOTAL_SEGMENTS,
    smpp34.TLV_SAR_SEGMENT_SEQNUM,
)
# Statuses worth trying again later; anything else unexpected is a refusal.
_RETRY = {
    wire.ESME_RSYSERR,
    wire.ESME_RMSGQFUL,
    wire.ESME_RTHROTTLED,
    wire.ESME_RSUBMITFAIL,
    wire.ESME_RX_T_APPN,
}
_REJECTIONS = {
    wire.ESME_RINVDSTADR: (21211, "the SMSC refused the destination address (ESME_RINVDSTADR)"),
    wire.ESME_RINVSRCADR: (21606, "the SMSC refused the source address (ESME_RINVSRCADR)"),
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
    tls_ca: str | None = None  # CA certificates (PEM) to trust instead of the system's
    system_type: str = ""
    connect_timeout: float = 10.0
    response_timeout: float = 30.0
    enquire_link_interval: float = 30.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    # The submit rate limit, when it is shared with other processes; None: `tps` here alone.
    throttle: Throttle | None = field(default=None, compare=False)


class SmppChannel:
    def __init__(self, name: str, config: SmppConfig) -> None:
        self.name = name
        self.config = config
        self._window = asyncio.Semaphore(config.window)
        self._bucket: Throttle = config.throttle or TokenBucket(config.tps)
        self._session: SmppSession | None = None
        self._bound = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._on_inbound: InboundHandler | None = None
        self.binds = 0
        self._links = 0  # binds tried: each link's name (MessageHeard.link) is its number
        self.last_error: str | None = None
        self._warned_unnumbered = False
        self._recording_late: set[asyncio.Future[None]] = set()

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
        for recording in list(self._recording_late):
            recording.cancel()  # the part stays ambiguous: its receipt is matched by handset
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
        source_ton = _ton(submission.source)
        try:
            # asyncio.timeout, not wait_for: no task per submit
            async with asyncio.timeout(self.config.response_timeout):
                answer = await session.submit_sm(
                    _address(submission.source),
                    _address(submission.destination),
                    part.short_message,
                    source_addr_ton=source_ton,
                    source_addr_npi=1 if source_ton != TON_ALPHANUMERIC else 0,
                    dest_addr_ton=TON_INTERNATIONAL,
                    dest_addr_npi=1,
                    esm_class=part.esm_class,
                    data_coding=part.data_coding,
                    registered_delivery=1 if submission.want_receipt else 0,
                    late=partial(self._answered_late, submission.reference, part.sequence),
                )
        except TimeoutError:
            return PartResult(part.sequence, PartOutcome.AMBIGUOUS, detail="no submit_sm_resp")
        except SessionClosed as exc:
            if not exc.written:
                return PartResult(part.sequence, PartOutcome.NOT_SENT, detail=str(exc))
            return PartResult(
                part.sequence, PartOutcome.AMBIGUOUS, detail=f"{exc} awaiting the answer"
            )
        return self._outcome(part.sequence, answer)

    def _outcome(self, sequence: int, answer: Answer) -> PartResult:
        """What the SMSC's answer to a part's submit_sm makes of it."""
        if answer.command_id == wire.GENERIC_NACK:
            # The SMSC could not read the submit and took nothing, whatever the status says.
            return self._refused(sequence, answer.status, nacked=True)
        if answer.status != wire.ESME_ROK:
            return self._refused(sequence, answer.status)
        message_id = answer.message_id
        # ESME_ROK and no id: the SMSC has it, so it is sent all the same (never failed, never
        # sent again); only its receipt can never be matched. Said once per connector.
        if message_id is None and not self._warned_unnumbered:
            self._warned_unnumbered = True
            log.warning(
                "connector %s: the SMSC accepts submits without a message_id; their "
                "receipts cannot be matched",
                self.name,
            )
        return PartResult(sequence, PartOutcome.ACCEPTED, message_id)

    def _answered_late(self, reference: str, sequence: int, answer: Answer) -> None:
        """The answer to a submit given up on (its part left ambiguous) came after all:
        handed on, so the part's doubt is settled (dispatch/late_answers.py)."""
        result = self._outcome(sequence, answer)
        accepted = result.outcome == PartOutcome.ACCEPTED
        said = f"accepted as {result.smsc_message_id}" if accepted else result.detail
        log.info(
            "connector %s: %s part %d answered after the timeout: %s",
            self.name,
            reference,
            sequence,
            said,
        )
        if self._on_inbound is None:
            return
        recording = asyncio.ensure_future(
            self._on_inbound(AnsweredLate(self.name, reference, result))
        )
        self._recording_late.add(recording)
        recording.add_done_callback(partial(self._recorded_late, reference, sequence))

    def _recorded_late(self, reference: str, sequence: int, done: asyncio.Future[None]) -> None:
        self._recording_late.discard(done)
        if not done.cancelled() and done.exception() is not None:
            log.warning(
                "connector %s: the late answer to %s part %d was not recorded (%s); its "
                "receipt is matched by handset",
                self.name,
                reference,
                sequence,
                done.exception(),
            )

    def _refused(self, sequence: int, status: int, *, nacked: bool = False) -> PartResult:
        name = ("generic_nack " if nacked else "") + wire.status_name(status)
        if status == wire.ESME_RTHROTTLED:
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

    # -- the connection ------------------------------------------------------------------

    async def _stay_bound(self) -> None:
        delay = self.config.backoff_initial
        while not self._closed:
            try:
                session = await self._bind()
                delay = self.config.backoff_initial
                reason = await session.closed
                log.warning("connector %s: session ended: %s", self.name, reason)
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

    async def _bind(self) -> SmppSession:
        config = self.config
        endpoint = Endpoint(
            config.host,
            config.port,
            config.system_id,
            config.password,
            system_type=config.system_type,
            tls=config.tls,
            tls_ca=config.tls_ca,
        )
        self._links += 1  # a deliver_sm can come before the bind is done with
        link = f"{_PROCESS}/{self.name}/{self._links}"
        try:
            session = await SmppSession.open(
                self.name,
                endpoint,
                partial(self._delivered, link=link),
                connect_timeout=config.connect_timeout,
                response_timeout=config.response_timeout,
                enquire_link_interval=config.enquire_link_interval,
            )
        except BindRefused as exc:
            raise ConnectionError(f"cannot bind to {config.host}:{config.port}: {exc}") from exc
        except ssl.SSLError as exc:
            raise ConnectionError(
                f"TLS with the SMSC at {config.host}:{config.port} failed: {exc}"
            ) from exc
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"cannot reach the SMSC at {config.host}:{config.port}: {exc or type(exc).__name__}"
            ) from exc
        self._session = session
        # No submit into a session that has ended, before _stay_bound hears of it.
        session.closed.add_done_callback(lambda _: self._bound.clear())
        self.binds += 1
        self.last_error = None
        self._bound.set()
        log.info("connector %s bound to %s:%s", self.name, config.host, config.port)
        return session

    def _delivered(
        self, delivered: smpp34.DeliverSm, *, link: str
    ) -> Awaitable[Confirm | None] | None:
        """A deliver_sm on `link`: what it says, handed on; the SMSC has its answer once
        that is stored (`InboundHandler`)."""
        try:
            heard = self._heard(delivered, link)
        except (NotAReceipt, DomainError, ValueError) as exc:
            # Acknowledged: offering it again would not make it readable.
            log.warning("connector %s: unreadable deliver_sm dropped: %s", self.name, exc)
            return None
        assert self._on_inbound is not None, "started before binding"
        return self._on_inbound(heard)

    def _heard(
        self, delivered: smpp34.DeliverSm, link: str
    ) -> ReceiptHeard | MessageHeard | PartHeard:
        tlvs = {tlv.tag: tlv for tlv in delivered.tlvs}
        # SMPP 3.4 §5.3.2.32: the text is in short_message or in message_payload, never both
        # (a data_sm has only the latter).
        payload = tlvs.get(smpp34.TLV_MESSAGE_PAYLOAD)
        content = delivered.short_message or (payload.value if payload else b"")
        # The handset sent it (a text) or was sent to (a receipt); the destination is ours.
        destination = WrittenNumber(delivered.destination_addr, delivered.dest_addr_ton)
        source = WrittenNumber(delivered.source_addr, delivered.source_addr_ton)
        if is_receipt(delivered.esm_class):
            receipted = tlvs.get(smpp34.TLV_RECEIPTED_MESSAGE_ID)
            state = tlvs.get(smpp34.TLV_MESSAGE_STATE)
            receipt = parse_receipt(
                content,
                receipted.value if receipted else None,
                state.as_int() if state else None,
            )
            return ReceiptHeard(self.name, receipt, read_handset(source, destination) or "")
        part = parse_part(content, delivered.data_coding, delivered.esm_class)
        sar = [tlvs.get(tag) for tag in _SAR_TAGS]
        if part.total == 1 and all(sar):  # its place in the TLVs rather than in a header
            reference, total, sequence = (tlv.as_int() for tlv in sar)
            part = sar_part(
                part.short_message, part.data_coding, part.esm_class, reference, total, sequence
            )
        if part.total == 1:
            return MessageHeard(self.name, source, destination, part.text(), link)
        check_text_coding(part.data_coding)
        return PartHeard(self.name, source, destination, part)

    async def _disconnect(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.unbind()

    def _why_unbound(self) -> str:
        return f"not bound to the SMSC ({self.last_error or 'connecting'})"


def _ton(address: str) -> int:
    """International for +E.164, alphanumeric for sender IDs."""
    if address.startswith("+") or address.isdigit():
        return TON_INTERNATIONAL
    return TON_ALPHANUMERIC


def _address(value: str) -> str:
    """SMPP carries international numbers as digits, the TON saying they are international."""
    return value[1:] if value.startswith("+") and value[1:].isdigit() else value
