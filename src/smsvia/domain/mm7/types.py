"""MM7's vocabulary: namespaces, status codes, the messages both sides exchange."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

NS = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
VERSION = "6.8.0"
SOAP_CID = "<mm7-soap>"


class Mm7Status(IntEnum):
    """The request status codes of TS 23.140 that change what we do."""

    SUCCESS = 1000
    PARTIAL_SUCCESS = 1100
    CLIENT_ERROR = 2000
    OPERATION_RESTRICTED = 2001
    ADDRESS_ERROR = 2002
    ADDRESS_NOT_FOUND = 2003
    CONTENT_REFUSED = 2004
    MESSAGE_ID_NOT_FOUND = 2005
    FORMAT_CORRUPT = 2007
    SERVER_ERROR = 3000
    NOT_POSSIBLE = 3001
    MESSAGE_REJECTED = 3002
    GENERAL_SERVICE_ERROR = 4000
    IMPROPER_IDENTIFICATION = 4001
    UNSUPPORTED_OPERATION = 4003
    VALIDATION_ERROR = 4004
    SERVICE_ERROR = 4005
    SERVICE_UNAVAILABLE = 4006


# Worth another try later: the relay is busy or broken for now, not refusing the message.
TRANSIENT = frozenset({3000, 3001, 4005, 4006})

# MMStatus of a delivery report -> the SMPP-style receipt state the receipt inbox keeps.
REPORT_STATES = {
    "Retrieved": "DELIVRD",
    "Expired": "EXPIRED",
    "Rejected": "REJECTD",
    "DeliveryConditionNotMet": "UNDELIV",
    "Unrecognised": "UNKNOWN",
    "Indeterminate": "UNKNOWN",
    "Forwarded": "ENROUTE",
    "Deferred": "ENROUTE",
}


class Malformed(ValueError):
    """Bytes that are not the MM7 they claim to be; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Attachment:
    content_type: str
    data: bytes
    name: str = ""


@dataclass(frozen=True, slots=True)
class Submit:
    """SubmitReq: one message to one recipient."""

    transaction_id: str
    vasp_id: str
    vas_id: str
    sender: str  # E.164 or a short code
    recipient: str  # E.164
    text: str
    attachments: tuple[Attachment, ...] = ()
    delivery_report: bool = True


@dataclass(frozen=True, slots=True)
class Answer:
    """A SubmitRsp, DeliverRsp or DeliveryReportRsp, or the status of a fault (then
    `message_id` is None)."""

    status: int
    text: str
    message_id: str | None

    @property
    def accepted(self) -> bool:
        return self.status in (Mm7Status.SUCCESS, Mm7Status.PARTIAL_SUCCESS) and bool(
            self.message_id
        )


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """DeliveryReportReq: what became of a message the relay accepted."""

    transaction_id: str
    message_id: str
    recipient: str
    sender: str
    mm_status: str  # Retrieved, Rejected, Expired, …

    @property
    def state(self) -> str:
        return REPORT_STATES.get(self.mm_status, "UNKNOWN")


@dataclass(frozen=True, slots=True)
class Deliver:
    """DeliverReq: a message from a handset to one of our numbers."""

    transaction_id: str
    sender: str
    recipient: str
    subject: str
    text: str
    attachments: tuple[Attachment, ...]
