"""One SMPP 3.4 session as an ESME bound as a transceiver, on our event loop, with smpp34's
codec for submit_sm and deliver_sm.

Why not smpp34's own session: it answers every deliver_sm itself before the application
has seen it, so a receipt or a customer's text arriving as the process dies was lost (the
SMSC had its deliver_sm_resp and never offered it again). Here the answer waits for the
handler: ESME_ROK once what it was handed is durable, ESME_RX_T_APPN (offer it again later)
if storing it failed. Framing, sequence numbers, bind, enquire_link and unbind are a header
and a few C-strings each (smpp_wire.py). A data_sm from the SMSC (some send receipts and
customers' texts that way) is read as the deliver_sm it amounts to, handed to the same
handler and answered with a data_sm_resp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

import smpp34

from smsvia.channels import smpp_wire as wire
from smsvia.channels.base import Confirm
from smsvia.domain.receipt_ids import fitted

log = logging.getLogger(__name__)

# What to make of a deliver_sm (or a data_sm, read as one): None to answer ESME_ROK at once;
# an awaitable to answer ESME_ROK once it ends (what it was handed is durable),
# ESME_RX_T_APPN if it raises. What the awaitable returns, if a Confirm, is called once the
# SMSC has surely read that ESME_ROK.
DeliverHandler = Callable[[smpp34.DeliverSm], Awaitable[object] | None]
# When to call a Confirm: once the SMSC answered a request we wrote after that answer, on
# the same link (it reads the stream in order). A written answer proves nothing: the link
# can drop under it.

_CREDENTIALS = {wire.ESME_RBINDFAIL, wire.ESME_RINVPASWD, wire.ESME_RINVSYSID}
# Submits given up on whose answer may still come, at most (the oldest are forgotten first).
_LATE_KEPT = 10_000


class SessionClosed(ConnectionError):
    """The session ended under a request; `written`: whether the request went on the wire
    (then the SMSC may have acted on it)."""

    def __init__(self, reason: str, *, written: bool) -> None:
        super().__init__(reason)
        self.written = written


class BindRefused(ConnectionError):
    def __init__(self, status: int, system_id: str) -> None:
        why = " (credentials refused)" if status in _CREDENTIALS else ""
        name = wire.status_name(status)
        super().__init__(f"the SMSC refused the bind as {system_id}: {name}{why}")
        self.status = status


@dataclass(frozen=True, slots=True)
class Answer:
    command_id: int
    status: int
    body: bytes

    @property
    def message_id(self) -> str | None:
        """The message_id a submit_sm_resp carries (None when the body has none), fitted
        to SMPP's 64 characters (domain/receipt_ids.fitted) as its receipt's will be."""
        end = self.body.find(b"\0")
        value = (self.body if end < 0 else self.body[:end]).decode("latin-1")
        return fitted(value) if value else None


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    tls: bool = False
    tls_ca: str | None = None  # None: the system's trust store (or SSL_CERT_FILE)


class SmppSession:
    """Open with `SmppSession.open`; `closed` ends (with the reason) when the session does."""

    def __init__(
        self,
        name: str,
        on_deliver: DeliverHandler,
        *,
        response_timeout: float,
        enquire_link_interval: float,
    ) -> None:
        self.name = name
        self._on_deliver = on_deliver
        self._response_timeout = response_timeout
        self._enquire_link_interval = enquire_link_interval
        self._transport: asyncio.Transport | None = None
        self._pending: dict[int, asyncio.Future[Answer]] = {}
        # Submits their sender stopped waiting for, by sequence: what to do if answered.
        self._late: dict[int, Callable[[Answer], None]] = {}
        self._sequence = 0
        self._last_heard = time.monotonic()
        self._keepalive: asyncio.Task[None] | None = None
        self._writes = 0  # PDUs written on the link so far
        # Answers not yet known to be read: (their place among the writes, what to call).
        self._unconfirmed: list[tuple[int, Confirm]] = []
        self._probe: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(
        cls,
        name: str,
        endpoint: Endpoint,
        on_deliver: DeliverHandler,
        *,
        connect_timeout: float,
        response_timeout: float = 30.0,
        enquire_link_interval: float = 30.0,
    ) -> SmppSession:
        """Connect and bind as a transceiver; raises OSError or TimeoutError (unreachable)
        or BindRefused."""
        session = cls(
            name,
            on_deliver,
            response_timeout=response_timeout,
            enquire_link_interval=enquire_link_interval,
        )
        loop = asyncio.get_running_loop()
        context = ssl.create_default_context(cafile=endpoint.tls_ca) if endpoint.tls else None
        try:
            async with asyncio.timeout(connect_timeout):
                await loop.create_connection(
                    partial(_Framing, session), endpoint.host, endpoint.port, ssl=context
                )
                answer = await session.request(wire.BIND_TRANSCEIVER, _bind_body(endpoint))
        except BaseException:
            session.abort("not bound")
            raise
        if answer.status != wire.ESME_ROK:
            session.abort("bind refused")
            raise BindRefused(answer.status, endpoint.system_id)
        session._keepalive = asyncio.create_task(session._keep_alive(), name=f"smpp-link:{name}")
        return session

    @property
    def open_for_requests(self) -> bool:
        return self._transport is not None and not self.closed.done()

    async def submit_sm(
        self,
        source_addr: str,
        destination_addr: str,
        short_message: bytes,
        *,
        late: Callable[[Answer], None] | None = None,
        **fields: int,
    ) -> Answer:
        """Raises SessionClosed if the session ends first (see `written`). If the caller
        stops waiting (a timeout) and the answer comes after all, on this session, it goes
        to `late`."""
        sequence = self._next_sequence()
        encoded = smpp34.SubmitSm(
            source_addr, destination_addr, short_message, sequence_number=sequence, **fields
        ).encode()
        return await self._exchange(sequence, encoded, late)

    async def request(self, command_id: int, body: bytes = b"") -> Answer:
        sequence = self._next_sequence()
        return await self._exchange(sequence, wire.pdu(command_id, 0, sequence, body))

    async def unbind(self) -> None:
        """Unbind politely (a moment for the SMSC's answer), then close."""
        if self.open_for_requests:
            with contextlib.suppress(ConnectionError, TimeoutError):
                async with asyncio.timeout(2):
                    await self.request(wire.UNBIND)
        self.abort("unbound")

    def abort(self, reason: str) -> None:
        if not self.closed.done():
            self.closed.set_result(reason)
        if self._keepalive is not None and self._keepalive is not asyncio.current_task():
            self._keepalive.cancel()
        if self._transport is not None:
            self._transport.close()

    # -- requests and their answers --------------------------------------------------------

    def _next_sequence(self) -> int:
        sequence = self._sequence
        while True:
            sequence = sequence % 0x7FFFFFFF + 1
            if sequence not in self._pending and sequence not in self._late:
                self._sequence = sequence
                return sequence

    async def _exchange(
        self, sequence: int, encoded: bytes, late: Callable[[Answer], None] | None = None
    ) -> Answer:
        transport = self._transport
        if transport is None or self.closed.done() or transport.is_closing():
            raise SessionClosed(self._why(), written=False)
        answered = asyncio.get_running_loop().create_future()
        self._pending[sequence] = answered
        transport.write(encoded)
        self._writes += 1
        try:
            return await answered
        finally:
            self._pending.pop(sequence, None)
            if late is not None and answered.cancelled() and not self.closed.done():
                self._late[sequence] = late
                if len(self._late) > _LATE_KEPT:
                    del self._late[next(iter(self._late))]

    def _why(self) -> str:
        return self.closed.result() if self.closed.done() else "not connected"

    # -- what the SMSC sends ---------------------------------------------------------------

    def _connected(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def _received(self, command_id: int, status: int, sequence: int, pdu: bytes) -> None:
        self._last_heard = time.monotonic()
        if command_id & wire.RESPONSE:  # generic_nack included
            answered = self._pending.get(sequence)
            if answered is None or answered.done():
                late = self._late.pop(sequence, None)
                if late is not None:
                    late(Answer(command_id, status, pdu[wire.HEADER.size :]))
                else:
                    log.debug("connector %s: an answer to %d nobody waits for", self.name, sequence)
                return
            answered.set_result(Answer(command_id, status, pdu[wire.HEADER.size :]))
        elif command_id in (wire.DELIVER_SM, wire.DATA_SM):
            self._deliver(command_id, sequence, pdu)
        elif command_id == wire.ENQUIRE_LINK:
            self._write(wire.pdu(wire.ENQUIRE_LINK | wire.RESPONSE, wire.ESME_ROK, sequence))
        elif command_id == wire.UNBIND:
            self._write(wire.pdu(wire.UNBIND | wire.RESPONSE, wire.ESME_ROK, sequence))
            self.abort("the SMSC unbound")
        elif command_id != wire.ALERT_NOTIFICATION:
            log.warning("connector %s: unknown command 0x%08X refused", self.name, command_id)
            self._write(wire.pdu(wire.GENERIC_NACK, wire.ESME_RINVCMDID, sequence))

    def _unframed(self, length: int, sequence: int) -> None:
        """A command_length no PDU has: the stream cannot be followed any further."""
        log.warning("connector %s: a PDU of %d octets; closing the session", self.name, length)
        self._write(wire.pdu(wire.GENERIC_NACK, wire.ESME_RINVCMDLEN, sequence))
        self.abort(f"unreadable PDU from the SMSC (command_length {length})")

    def _lost(self, exc: Exception | None) -> None:
        reason = f"connection lost: {exc}" if exc else "connection closed by the SMSC"
        if not self.closed.done():
            self.closed.set_result(reason)
        if self._keepalive is not None:
            self._keepalive.cancel()
        self._transport = None
        for answered in self._pending.values():
            if not answered.done():
                answered.set_exception(SessionClosed(self.closed.result(), written=True))
        self._pending.clear()
        self._late.clear()  # sequences are the session's: no answer can come now

    def _deliver(self, command_id: int, sequence: int, pdu: bytes) -> None:
        answer = partial(self._answer, command_id | wire.RESPONSE, sequence)
        kind = "data_sm" if command_id == wire.DATA_SM else "deliver_sm"
        try:
            if command_id == wire.DATA_SM:
                pdu = wire.data_sm_as_deliver_sm(pdu)
            delivered = smpp34.decode(pdu)
        except (smpp34.SmppError, ValueError) as exc:
            delivered = exc
        if not isinstance(delivered, smpp34.DeliverSm):
            # Offering it again would not make it readable.
            log.warning("connector %s: undecodable %s refused: %s", self.name, kind, delivered)
            answer(wire.ESME_RX_P_APPN)
            return
        try:
            stored = self._on_deliver(delivered)
        except Exception:
            log.exception("connector %s: %s not taken; offered again later", self.name, kind)
            answer(wire.ESME_RX_T_APPN)
            return
        if stored is None:
            answer(wire.ESME_ROK)
        else:
            answered = partial(self._answer_stored, kind, answer)
            asyncio.ensure_future(stored).add_done_callback(answered)

    def _answer_stored(
        self, kind: str, answer: Callable[[int], None], stored: asyncio.Future[object]
    ) -> None:
        failure = None if stored.cancelled() else stored.exception()
        if stored.cancelled() or failure is not None:
            log.warning(
                "connector %s: %s not stored (%s); the SMSC will offer it again",
                self.name,
                kind,
                failure or "cancelled",
            )
            answer(wire.ESME_RX_T_APPN)
            return
        answer(wire.ESME_ROK)
        confirm = stored.result()
        if callable(confirm):
            self._unconfirmed.append((self._writes, confirm))
            if self._probe is None and self.open_for_requests:
                self._probe = asyncio.create_task(self._confirm())

    async def _confirm(self) -> None:
        """Call the Confirms of the answers written so far once an enquire_link written
        after them is answered, and again while more come; none if the link ends first."""
        with contextlib.suppress(SessionClosed, TimeoutError):
            while self._unconfirmed and self.open_for_requests:
                written = self._writes
                async with asyncio.timeout(self._response_timeout):
                    await self.request(wire.ENQUIRE_LINK)
                read = [confirm for place, confirm in self._unconfirmed if place <= written]
                self._unconfirmed = [item for item in self._unconfirmed if item[0] > written]
                for confirm in read:
                    confirm()
        self._probe = None

    def _answer(self, command_id: int, sequence: int, status: int) -> None:
        # the message_id of a deliver_sm_resp or data_sm_resp: unused, one NUL
        self._write(wire.pdu(command_id, status, sequence, b"\0"))

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(data)
            self._writes += 1

    async def _keep_alive(self) -> None:
        """An enquire_link whenever the SMSC has been silent for an interval; no answer
        within the response timeout ends the session."""
        interval = self._enquire_link_interval
        while not self.closed.done():
            await asyncio.sleep(max(0.0, self._last_heard + interval - time.monotonic()))
            if time.monotonic() - self._last_heard < interval:
                continue
            try:
                async with asyncio.timeout(self._response_timeout):
                    await self.request(wire.ENQUIRE_LINK)
            except TimeoutError:
                self.abort(f"no answer to enquire_link within {self._response_timeout:g}s")
            except SessionClosed:
                return


class _Framing(asyncio.Protocol):
    """Cuts the byte stream into PDUs for the session."""

    def __init__(self, session: SmppSession) -> None:
        self._session = session
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._session._connected(transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        offset, size, session = 0, len(buffer), self._session
        while size - offset >= wire.HEADER.size and not session.closed.done():
            length, command_id, status, sequence = wire.HEADER.unpack_from(buffer, offset)
            if not wire.HEADER.size <= length <= wire.MAX_PDU:
                buffer.clear()
                session._unframed(length, sequence)
                return
            if size - offset < length:
                break
            session._received(command_id, status, sequence, bytes(buffer[offset : offset + length]))
            offset += length
        del buffer[:offset]

    def connection_lost(self, exc: Exception | None) -> None:
        self._session._lost(exc)


def _bind_body(endpoint: Endpoint) -> bytes:
    return (
        wire.c_string(endpoint.system_id)
        + wire.c_string(endpoint.password)
        + wire.c_string(endpoint.system_type)
        + bytes([wire.INTERFACE_VERSION, 0, 0])  # interface_version, addr_ton, addr_npi
        + wire.c_string("")  # address_range
    )
