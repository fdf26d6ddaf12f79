"""An SMSC simulator speaking SMPP 3.4 over TCP: binds, submits, receipts and failure modes.

Behaviour by destination number: ending 9999 → receipt UNDELIV, 9998 → submit refused with
ESME_RINVDSTADR, 9997 → no receipt at all; anything else → DELIVRD after `dlr_delay`.
It records every submit it accepted, so tests can count what reached the "network".

Message ids are numbered as real SMSCs number them (`ids`): 8 hex digits, a decimal
counter, hex in submit_sm_resp and decimal in the receipt, or zero-padded in submit_sm_resp
and bare in the receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
import time
from dataclasses import dataclass, field

import smpp34

from smsvia.channels import smpp_wire as wire
from smsvia.sim.smsc_behaviour import (
    DELIVERS_WITH,
    ID_STYLES,
    AcceptedSubmit,
    SmscBehaviour,
    customer_text,
    delivery_receipts,
    texts_received,
)

__all__ = ["DELIVERS_WITH", "ID_STYLES", "AcceptedSubmit", "SmscBehaviour", "SmscSimulator"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Pending:
    """A deliver_sm waiting for a receiving session (its sequence number is set on sending)."""

    encoded: bytes
    receipt_for: str | None  # the SMSC message id a receipt is about; None for MO messages


@dataclass(eq=False)
class _Session:
    writer: asyncio.StreamWriter
    serial: int  # 1 for the first connection, 2 for the next, ...
    bound: str | None = None  # "TX", "RX" or "TRX"
    outstanding: int = 0
    sequence: int = 0
    # deliver_sm sent and not yet acknowledged, by sequence: resent elsewhere if we lose them
    unacknowledged: dict[int, _Pending] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def receives(self) -> bool:
        return self.bound in ("RX", "TRX")

    def next_sequence(self) -> int:
        self.sequence = self.sequence % 0x7FFFFFFF + 1
        return self.sequence

    async def send(self, data: bytes) -> None:
        async with self.lock:
            self.writer.write(data)
            await self.writer.drain()


class SmscSimulator:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        behaviour: SmscBehaviour | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.behaviour = behaviour or SmscBehaviour()
        self.accepted: list[AcceptedSubmit] = []
        self.binds = 0
        self.bind_failures = 0
        self.generic_nacks_received = 0
        self.enquire_links = 0
        self.max_outstanding = 0
        self.receipts_sent = 0
        self.receipts_acknowledged = 0
        self.wrong_answers = 0  # a deliver_sm or data_sm answered with the other's response
        self.deliveries_refused = 0  # deliver_sm answered with an error, offered again later
        self.text_answers_lost = 0  # as `lose_text_answers` says
        self.refused = 0  # submits refused as `refuse_with` says
        # (SMSC message id, connection serial) of every receipt the ESME acknowledged.
        self.receipt_acks: list[tuple[str, int]] = []
        self.connections = 0
        self._sessions: set[_Session] = set()
        self._server: asyncio.Server | None = None
        # Ids start anywhere, as a real SMSC's do; a restart does not count from 1 again.
        first = self.behaviour.first_id
        self._ids = (first - 1) if first is not None else secrets.randbelow(1 << 28)
        self._write_id = ID_STYLES[self.behaviour.ids]
        self._submits = 0
        self._undelivered_receipts: list[_Pending] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._window_start = time.monotonic()
        self._window_count = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("SMSC simulator listening on %s:%s", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        """Stop listening and cut every connection, as a crashing SMSC would."""
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        self._server = None

    def destinations(self) -> list[str]:
        return [submit.destination for submit in self.accepted]

    def texts_to(self, destination: str) -> list[str]:
        return texts_received(self.accepted, destination)

    def unacknowledged(self) -> int:
        """deliver_sm sent and not answered yet, receipts and customers' texts alike."""
        return sum(len(session.unacknowledged) for session in self._sessions)

    async def send_raw(self, data: bytes) -> None:
        """Write arbitrary bytes to every bound session (for garbage-PDU tests)."""
        for session in list(self._sessions):
            if session.bound:
                await session.send(data)

    async def deliver_mo(self, source: str, destination: str, text: str, **parts) -> None:
        """A customer texts `destination`; a long text comes in parts (`customer_text`)."""
        for encoded in customer_text(self.behaviour, source, destination, text, **parts):
            await self._push(_Pending(encoded, None))

    # -- connection handling -------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        session = _Session(writer, self.connections)
        self._sessions.add(session)
        try:
            while True:
                header = await reader.readexactly(wire.HEADER.size)
                length, command_id, status, sequence = wire.HEADER.unpack(header)
                if not wire.HEADER.size <= length <= wire.MAX_PDU:
                    await session.send(wire.pdu(wire.GENERIC_NACK, wire.ESME_RINVCMDLEN, sequence))
                    break
                body = await reader.readexactly(length - wire.HEADER.size)
                if not await self._handle(session, command_id, status, sequence, header + body):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._sessions.discard(session)
            writer.close()
            if session.unacknowledged:
                # Like a real SMSC: an unacknowledged receipt is delivered again later.
                self._undelivered_receipts[:0] = list(session.unacknowledged.values())
                session.unacknowledged.clear()
                with contextlib.suppress(ConnectionError):
                    await self._flush_receipts()

    async def _handle(
        self, session: _Session, command_id: int, status: int, sequence: int, pdu: bytes
    ) -> bool:
        """Answer one PDU; False ends the connection."""
        body = pdu[wire.HEADER.size :]
        if command_id in (wire.BIND_RECEIVER, wire.BIND_TRANSMITTER, wire.BIND_TRANSCEIVER):
            return await self._bind(session, command_id, sequence, body)
        if command_id == wire.ENQUIRE_LINK:
            self.enquire_links += 1
            if self.behaviour.answer_enquire_link:
                await session.send(wire.pdu(wire.ENQUIRE_LINK | wire.RESPONSE, 0, sequence))
            return True
        if command_id == wire.UNBIND:
            await session.send(wire.pdu(wire.UNBIND | wire.RESPONSE, 0, sequence))
            return False
        if command_id in (wire.DELIVER_SM | wire.RESPONSE, wire.DATA_SM | wire.RESPONSE):
            pending = session.unacknowledged.get(sequence)
            if pending is None:
                return True
            if (
                pending.receipt_for is None
                and self.text_answers_lost < self.behaviour.lose_text_answers
            ):
                self.text_answers_lost += 1
                return False  # unread: the text is still unacknowledged, offered again
            if command_id != wire.HEADER.unpack_from(pending.encoded)[1] | wire.RESPONSE:
                self.wrong_answers += 1  # a deliver_sm_resp to a data_sm: not an answer
                return True
            del session.unacknowledged[sequence]
            if status != wire.ESME_ROK:
                # Refused (ESME_RMSGQFUL and the like): offer it again a little later.
                self.deliveries_refused += 1
                self._later(self._push_later(pending, 0.5))
            elif pending.receipt_for is not None:
                self.receipts_acknowledged += 1
                self.receipt_acks.append((pending.receipt_for, session.serial))
            return True
        if command_id == wire.GENERIC_NACK:
            self.generic_nacks_received += 1
            return True
        if command_id == wire.ENQUIRE_LINK | wire.RESPONSE:
            return True
        if command_id == wire.SUBMIT_SM:
            if not session.bound:
                await session.send(
                    wire.pdu(wire.SUBMIT_SM | wire.RESPONSE, wire.ESME_RINVBNDSTS, sequence)
                )
                return True
            return await self._submit(session, sequence, pdu)
        await session.send(wire.pdu(wire.GENERIC_NACK, wire.ESME_RINVCMDID, sequence))
        return True

    async def _bind(self, session: _Session, command_id: int, sequence: int, body: bytes) -> bool:
        try:
            system_id, password = wire.read_c_strings(body, 2)
        except ValueError:
            system_id = password = None
        expected = self.behaviour
        ok = (
            system_id is not None
            and not session.bound
            and (expected.system_id is None or system_id == expected.system_id)
            and (expected.password is None or password == expected.password)
        )
        status = wire.ESME_ROK if ok else wire.ESME_RBINDFAIL
        await session.send(
            wire.pdu(command_id | wire.RESPONSE, status, sequence, wire.c_string("smsvia-sim"))
        )
        if not ok:
            self.bind_failures += 1
            return False
        self.binds += 1
        session.bound = {
            wire.BIND_RECEIVER: "RX",
            wire.BIND_TRANSMITTER: "TX",
            wire.BIND_TRANSCEIVER: "TRX",
        }[command_id]
        await self._flush_receipts()
        return True

    async def _submit(self, session: _Session, sequence: int, pdu: bytes) -> bool:
        respond = wire.SUBMIT_SM | wire.RESPONSE
        try:
            submit = smpp34.decode(pdu)
        except smpp34.SmppError:
            await session.send(wire.pdu(respond, wire.ESME_RSYSERR, sequence))
            return True
        if not isinstance(submit, smpp34.SubmitSm):
            await session.send(wire.pdu(respond, wire.ESME_RSYSERR, sequence))
            return True
        if self.behaviour.nack_submits is not None:
            await session.send(wire.pdu(wire.GENERIC_NACK, self.behaviour.nack_submits, sequence))
            return True
        if submit.destination_addr.endswith("9998"):
            await session.send(wire.pdu(respond, wire.ESME_RINVDSTADR, sequence))
            return True
        if self._throttled():
            await session.send(wire.pdu(respond, wire.ESME_RTHROTTLED, sequence))
            return True
        if self._refusing():
            self._later(self._refuse_late(session, sequence))
            return True
        self._ids += 1
        self._submits += 1
        message_id, receipt_id = self._write_id(self._ids)
        drop = bool(self.behaviour.drop_after) and self._submits % self.behaviour.drop_after == 0
        accepted = AcceptedSubmit(
            message_id,
            submit.source_addr,
            submit.destination_addr,
            submit.short_message,
            submit.data_coding,
            submit.esm_class,
            submit.registered_delivery,
            receipt_id,
        )
        self.accepted.append(accepted)
        if submit.registered_delivery & 0x01 and not submit.destination_addr.endswith("9997"):
            self._later(self._receipt(receipt_id, submit.destination_addr, submit.source_addr))
        if drop:
            log.info("dropping the connection after submit %s (unanswered)", message_id)
            return False
        session.outstanding += 1
        self.max_outstanding = max(self.max_outstanding, session.outstanding)
        self._later(self._respond(session, sequence, accepted))
        return True

    async def _respond(self, session: _Session, sequence: int, accepted: AcceptedSubmit) -> None:
        if self.behaviour.respond_after:
            await asyncio.sleep(self.behaviour.respond_after)
        session.outstanding -= 1
        if session.writer.is_closing():
            return  # the connection was cut under this submit: its answer is lost
        body = wire.c_string(accepted.message_id)
        answer = wire.pdu(wire.SUBMIT_SM | wire.RESPONSE, wire.ESME_ROK, sequence, body)
        with contextlib.suppress(ConnectionError):
            await session.send(answer)
            accepted.answered = True
            if self.behaviour.answer_twice:
                await session.send(answer)

    def _refusing(self) -> bool:
        behaviour = self.behaviour
        if behaviour.refuse_with is None:
            return False
        if behaviour.refusals is not None and self.refused >= behaviour.refusals:
            return False
        self.refused += 1
        return True

    async def _refuse_late(self, session: _Session, sequence: int) -> None:
        assert self.behaviour.refuse_with is not None
        await asyncio.sleep(self.behaviour.respond_after)
        if not session.writer.is_closing():
            with contextlib.suppress(ConnectionError):
                status = self.behaviour.refuse_with
                await session.send(wire.pdu(wire.SUBMIT_SM | wire.RESPONSE, status, sequence))

    def _throttled(self) -> bool:
        limit = self.behaviour.throttle_tps
        if not limit:
            return False
        now = time.monotonic()
        if now - self._window_start >= 1.0:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        return self._window_count > limit

    async def repeat_receipts(self) -> None:
        """Send every receipt already sent once more, as SMSCs sometimes do."""
        for submit in self.accepted:
            if submit.registered_delivery & 0x01 and not submit.destination.endswith("9997"):
                await self._receipt(submit.receipt_id, submit.destination, submit.source)

    async def _receipt(self, message_id: str, destination: str, source: str) -> None:
        await asyncio.sleep(self.behaviour.dlr_delay)
        for receipt in delivery_receipts(self.behaviour, message_id, destination, source):
            await self._push(_Pending(receipt, message_id))
        self.receipts_sent += 1

    async def _push_later(self, pending: _Pending, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._push(pending)

    async def _push(self, pending: _Pending) -> None:
        """Send a deliver_sm to a receiving session now, or keep it until one binds."""
        self._undelivered_receipts.append(pending)
        await self._flush_receipts()

    async def _flush_receipts(self) -> None:
        receivers = [s for s in self._sessions if s.receives]
        while self._undelivered_receipts and receivers:
            pending = self._undelivered_receipts.pop(0)
            session = receivers[0]
            sequence = session.next_sequence()
            # Re-number: the stored PDU carries a placeholder sequence.
            encoded = pending.encoded
            renumbered = encoded[:12] + sequence.to_bytes(4, "big") + encoded[16:]
            session.unacknowledged[sequence] = pending
            try:
                await session.send(renumbered)
            except ConnectionError:
                session.unacknowledged.pop(sequence, None)
                self._undelivered_receipts.insert(0, pending)
                return

    def _later(self, work) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
