"""MM7 (3GPP TS 23.140), the SOAP interface between a sender and an MMS relay (MMSC): the
requests and answers both sides write and read, as bytes. No I/O.

A request is SOAP in the first part of a multipart/related body; the message's content is a
second part, itself multipart/related (a text/plain part, the media, a SMIL layout), named
from the SOAP by `<Content href="cid:…"/>`. Answers are plain SOAP; refusals are SOAP faults
carrying an `RSErrorRsp` (or `VASPErrorRsp`) with a status code. MMSCs write the MM7
namespace of whichever release they speak (REL-5-MM7-1-2, REL-6-MM7-1-4, …), so elements are
read by their local names; ours are written in REL-6-MM7-1-4, version 6.8.0.
"""

from smsvia.domain.mm7.read import parse_answer, parse_relay_request, parse_submit
from smsvia.domain.mm7.types import (
    NS,
    REPORT_STATES,
    SOAP,
    TRANSIENT,
    VERSION,
    Answer,
    Attachment,
    Deliver,
    DeliveryReport,
    Malformed,
    Mm7Status,
    Submit,
)
from smsvia.domain.mm7.write import (
    answer,
    deliver_request,
    delivery_report_request,
    fault,
    new_transaction_id,
    submit_request,
)

__all__ = [
    "NS",
    "REPORT_STATES",
    "SOAP",
    "TRANSIENT",
    "VERSION",
    "Answer",
    "Attachment",
    "Deliver",
    "DeliveryReport",
    "Malformed",
    "Mm7Status",
    "Submit",
    "answer",
    "deliver_request",
    "delivery_report_request",
    "fault",
    "new_transaction_id",
    "parse_answer",
    "parse_relay_request",
    "parse_submit",
    "submit_request",
]
