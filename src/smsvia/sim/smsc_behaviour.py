"""What the SMSC simulator does (`SmscBehaviour`: credentials, receipt delay, throttling,
dropped links, how it numbers messages and which PDU carries what it delivers) and what it
records of each submit it accepted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import smpp34

from smsvia.channels import smpp_wire as wire
from smsvia.domain.encoding import Part, parse_part, segment, to_parts


@dataclass
class SmscBehaviour:
    system_id: str | None = "smsvia"  # None accepts any credentials
    password: str | None = "secret"
    dlr_delay: float = 0.05
    throttle_tps: int | None = None  # answer ESME_RTHROTTLED above this many submits a second
    drop_after: int | None = None  # cut the connection, unanswered, at every Nth submit
    respond_after: float = 0.0  # hold each submit_sm_resp this long (to observe windows)
    ids: str = "hex"  # one of ID_STYLES
    # Which destinations get an UNDELIV receipt (digits only, no "+").
    undeliverable: Callable[[str], bool] = lambda destination: destination.endswith("9999")
    first_id: int | None = None  # None: anywhere, as a real SMSC's ids start
    answer_enquire_link: bool = True  # False: a link that looks up and answers nothing
    # How receipts and customers' texts come: one of DELIVERS_WITH.
    delivers_with: str = "deliver_sm"
    # Answer every submit_sm with a generic_nack of this status (None: answer it).
    nack_submits: int | None = None
    # Refuse the first `refusals` submits (None: all) with this status, answered as late as
    # acceptances are (`respond_after`); None: refuse none this way.
    refuse_with: int | None = None
    refusals: int | None = None
    # Send every acceptance's submit_sm_resp twice, as some SMSCs do.
    answer_twice: bool = False
    # Before each final receipt, an intermediate one with this `stat:` (None: none), as an
    # SMSC relaying to the next one writes BUFFRED (Kannel) or ENROUTE.
    intermediate: str | None = None
    # The esm_class receipts come with: 0x04, an SMSC delivery receipt; some SMSCs write 0x08
    # (SME delivery acknowledgement), or set two type bits at once (0x24).
    receipt_esm_class: int = 0x04
    # The link drops as each of the first N answers to a customer's text comes in, unread
    # (a crash or a cut cable): the text is offered again on the next bind.
    lose_text_answers: int = 0


# deliver_sm with the text in short_message, as most SMSCs send; deliver_sm with it in the
# message_payload TLV instead; data_sm (which has only message_payload).
DELIVERS_WITH = ("deliver_sm", "message_payload", "data_sm")


# How the SMSC writes message number n: (in submit_sm_resp, in the receipt).
ID_STYLES = {
    "hex": lambda n: (f"{n:08x}", f"{n:08x}"),
    "decimal": lambda n: (str(n), str(n)),
    "hex-to-decimal": lambda n: (format(n, "x"), str(n)),
    "zero-padded": lambda n: (f"{n:010d}", str(n)),
    # ESME_ROK with an empty message_id, as a few SMSCs answer; the receipt has an id all
    # the same, one we were never given.
    "unnumbered": lambda n: ("", f"{n:08x}"),
    # Longer than SMPP's 64 characters, as a few relays write theirs (a route, a node and a
    # counter), all alike for their first 70.
    "long": lambda n: (_long_id(n), _long_id(n)),
}


def _long_id(n: int) -> str:
    return f"{'relay-eu-west-1.node-07.' * 3}{n:012d}"


@dataclass(slots=True)
class AcceptedSubmit:
    message_id: str  # as submit_sm_resp gave it
    source: str
    destination: str
    short_message: bytes
    data_coding: int
    esm_class: int
    registered_delivery: int
    receipt_id: str = ""  # the id its receipt names
    answered: bool = False  # True once submit_sm_resp went out on a live connection


def delivery(
    behaviour: SmscBehaviour,
    source: str,
    destination: str,
    content: bytes,
    esm_class: int = 0,
    tlvs: list[smpp34.Tlv] | None = None,
    data_coding: int = 0,
    source_ton: int = 1,
    destination_ton: int = 1,
) -> bytes:
    """A receipt or a customer's text as `behaviour.delivers_with` says (its sequence number
    a placeholder); `source_ton`, `destination_ton`: the types of number the addresses are
    written as."""
    tlvs = list(tlvs or [])
    if behaviour.delivers_with != "deliver_sm":  # the text goes in message_payload
        tlvs.append(smpp34.Tlv(smpp34.TLV_MESSAGE_PAYLOAD, content))
        content = b""
    if behaviour.delivers_with != "data_sm":
        pdu = smpp34.DeliverSm(
            source,
            destination,
            content,
            source_addr_ton=source_ton,
            dest_addr_ton=destination_ton,
            esm_class=esm_class,
            data_coding=data_coding,
            tlvs=tlvs,
            sequence_number=1,
        )
        return pdu.encode()
    body = b"".join(
        [
            wire.c_string(""),  # service_type
            bytes([source_ton, 1]) + wire.c_string(source),
            bytes([destination_ton, 1]) + wire.c_string(destination),
            bytes([esm_class, 0, data_coding]),  # esm_class, registered_delivery, data_coding
            *(wire.tlv(tlv.tag, tlv.value) for tlv in tlvs),
        ]
    )
    return wire.pdu(wire.DATA_SM, 0, 1, body)


def delivery_receipts(
    behaviour: SmscBehaviour, message_id: str, destination: str, source: str
) -> list[bytes]:
    """The receipts for message `message_id` to `destination`: the intermediate one if the
    behaviour asks for it (its state in the text alone, message_state 0, as Kannel writes
    it), then UNDELIV if the behaviour says the handset is unreachable, DELIVRD otherwise,
    in the text and in the TLVs."""
    undelivered = behaviour.undeliverable(destination)
    final = ("UNDELIV", 5, "001") if undelivered else ("DELIVRD", 2, "000")
    states = [(behaviour.intermediate, 0, "000")] if behaviour.intermediate else []
    stamp = datetime.now(UTC).strftime("%y%m%d%H%M")
    receipts = []
    for stat, state, err in [*states, final]:
        text = (
            f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
            f"submit date:{stamp} done date:{stamp} stat:{stat} err:{err} text:"
        )
        tlvs = [
            smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, message_id.encode() + b"\0"),
            smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes([state])),
        ]
        content = text.encode("ascii")
        receipts.append(
            delivery(behaviour, destination, source, content, behaviour.receipt_esm_class, tlvs)
        )
    return receipts


def customer_text(
    behaviour: SmscBehaviour,
    source: str,
    destination: str,
    text: str,
    *,
    reference: int = 1,
    order: Sequence[int] | None = None,
    sar: bool = False,
    source_ton: int = 1,
    destination_ton: int = 1,
) -> list[bytes]:
    """What a customer's text becomes: one delivery, or one a part when it is long (the
    part's place in a concatenation header, or with `sar` in sar_* TLVs). `order` lists the
    parts to deliver by number: a number twice is a part offered twice, one left out a part
    that never comes. A header carries the reference's low octet; sar_* TLVs all 16 bits."""
    parts = to_parts(segment(text), reference & 0xFF)
    chosen = [parts[number - 1] for number in (order or range(1, len(parts) + 1))]
    if not sar or len(parts) == 1:
        return [
            delivery(
                behaviour,
                source,
                destination,
                part.short_message,
                part.esm_class,
                data_coding=part.data_coding,
                source_ton=source_ton,
                destination_ton=destination_ton,
            )
            for part in chosen
        ]
    return [
        delivery(
            behaviour,
            source,
            destination,
            part.payload,
            tlvs=[
                smpp34.Tlv(smpp34.TLV_SAR_MSG_REF_NUM, reference.to_bytes(2, "big")),
                smpp34.Tlv(smpp34.TLV_SAR_TOTAL_SEGMENTS, bytes([part.total])),
                smpp34.Tlv(smpp34.TLV_SAR_SEGMENT_SEQNUM, bytes([part.sequence])),
            ],
            data_coding=part.data_coding,
            source_ton=source_ton,
            destination_ton=destination_ton,
        )
        for part in chosen
    ]


def texts_received(accepted: Sequence[AcceptedSubmit], destination: str) -> list[str]:
    """What a handset received, oldest first, the parts of a long message joined (an
    incomplete one shows what has arrived)."""
    wanted = destination.lstrip("+")
    messages: dict[object, list[Part]] = {}
    for submit in accepted:
        if submit.destination.lstrip("+") != wanted:
            continue
        part = parse_part(submit.short_message, submit.data_coding, submit.esm_class)
        key = (part.reference, part.total) if part.total > 1 else submit.message_id
        messages.setdefault(key, []).append(part)
    return [
        "".join(part.text() for part in sorted(parts, key=lambda p: p.sequence))
        for parts in messages.values()
    ]
