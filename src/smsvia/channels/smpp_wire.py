"""The SMPP 3.4 wire details both ends need beyond smpp34's codec: headers, command ids,
statuses and C-strings. smpp34 encodes and decodes submit_sm and deliver_sm; the rest of
the PDUs a session exchanges are a header and a few C-strings, written here."""

from __future__ import annotations

import struct

HEADER = struct.Struct(">IIII")  # command_length, command_id, command_status, sequence_number
TLV_HEADER = struct.Struct(">HH")  # tag, length
MAX_PDU = 64 * 1024

GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
ALERT_NOTIFICATION = 0x00000102  # the one request that has no response
DATA_SM = 0x00000103
RESPONSE = 0x80000000

INTERFACE_VERSION = 0x34

ESME_ROK = 0x00
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RSYSERR = 0x08
ESME_RINVSRCADR = 0x0A
ESME_RINVDSTADR = 0x0B
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RMSGQFUL = 0x14
ESME_RSUBMITFAIL = 0x45
ESME_RTHROTTLED = 0x58
ESME_RX_T_APPN = 0x64  # the ESME cannot take it now: the SMSC offers it again later
ESME_RX_P_APPN = 0x65  # the ESME can never take it: the SMSC need not offer it again


def pdu(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return HEADER.pack(HEADER.size + len(body), command_id, status, sequence) + body


def c_string(value: str) -> bytes:
    return value.encode("latin-1") + b"\0"


def read_c_strings(body: bytes, count: int) -> list[str]:
    """The first `count` NUL-terminated strings of `body`."""
    values, offset = [], 0
    for _ in range(count):
        end = body.find(b"\0", offset)
        if end < 0:
            raise ValueError("unterminated C-octet string")
        values.append(body[offset:end].decode("latin-1"))
        offset = end + 1
    return values


def tlv(tag: int, value: bytes) -> bytes:
    """One optional parameter (SMPP 3.4 §3.2.4.1)."""
    return TLV_HEADER.pack(tag, len(value)) + value


def data_sm_as_deliver_sm(data_sm: bytes) -> bytes:
    """A data_sm (§4.7.1) as the deliver_sm that says the same, so that one codec reads both:
    the fields a data_sm lacks (protocol_id, priority, schedule and validity, replace,
    default message, short_message) empty, its optional parameters (the text in
    message_payload, a receipt's receipted_message_id and message_state) as they came."""
    _, _, status, sequence = HEADER.unpack_from(data_sm)
    body = data_sm[HEADER.size :]
    offset = _after_c_string(body, 0)  # service_type
    offset = _after_c_string(body, offset + 2)  # source_addr_ton, _npi, source_addr
    offset = _after_c_string(body, offset + 2)  # dest_addr_ton, _npi, destination_addr
    if len(body) < offset + 3:
        raise ValueError("data_sm cut short before its data_coding")
    esm_class, registered_delivery, data_coding = body[offset : offset + 3]
    fixed = bytes([esm_class, 0, 0, 0, 0, registered_delivery, 0, data_coding, 0, 0])
    return pdu(DELIVER_SM, status, sequence, body[:offset] + fixed + body[offset + 3 :])


def _after_c_string(body: bytes, offset: int) -> int:
    end = body.find(b"\0", offset)
    if end < 0:
        raise ValueError("unterminated C-octet string")
    return end + 1


def status_name(status: int) -> str:
    return _NAMES.get(status, f"0x{status:08X}")


_NAMES = {
    ESME_ROK: "ESME_ROK",
    ESME_RINVCMDLEN: "ESME_RINVCMDLEN",
    ESME_RINVCMDID: "ESME_RINVCMDID",
    ESME_RINVBNDSTS: "ESME_RINVBNDSTS",
    ESME_RSYSERR: "ESME_RSYSERR",
    ESME_RINVSRCADR: "ESME_RINVSRCADR",
    ESME_RINVDSTADR: "ESME_RINVDSTADR",
    ESME_RBINDFAIL: "ESME_RBINDFAIL",
    ESME_RINVPASWD: "ESME_RINVPASWD",
    ESME_RINVSYSID: "ESME_RINVSYSID",
    ESME_RMSGQFUL: "ESME_RMSGQFUL",
    ESME_RSUBMITFAIL: "ESME_RSUBMITFAIL",
    ESME_RTHROTTLED: "ESME_RTHROTTLED",
    ESME_RX_T_APPN: "ESME_RX_T_APPN",
    ESME_RX_P_APPN: "ESME_RX_P_APPN",
}
