"""The few SMPP 3.4 wire details a server needs beyond smpp34's codec: headers and C-strings."""

from __future__ import annotations

import struct

HEADER = struct.Struct(">IIII")  # command_length, command_id, command_status, sequence_number
MAX_PDU = 64 * 1024

GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
RESPONSE = 0x80000000

ESME_ROK = 0x00
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RSYSERR = 0x08
ESME_RINVDSTADR = 0x0B
ESME_RBINDFAIL = 0x0D
ESME_RTHROTTLED = 0x58


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
