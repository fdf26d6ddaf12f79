"""MM7 (3GPP TS 23.140), the SOAP interface between a sender and an MMS relay (MMSC): the
requests and answers both sides write and read, as bytes. No I/O.

A request is SOAP in the first part of a multipart/related body; the message's content is a
second part, itself multipart/related (a text/plain part, the media, a SMIL layout), named
from the SOAP by `<Content href="cid:…"/>`. Answers are plain SOAP; refusals are SOAP faults
carrying an `RSErrorRsp` (or `VASPErrorRsp`) with a status code. MMSCs write the MM7
namespace of whichever release they speak (REL-5-MM7-1-2, REL-6-MM7-1-4, …), so elements are
read by their local names; ours are written in REL-6-MM7-1-4, version 6.8.0.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import make_msgid
from enum import IntEnum

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

NS = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
VERSION = "6.8.0"
SOAP_CID = "<mm7-soap>"
# HTTP bodies: CRLF line ends; no header folding short of the RFC's 998 characters.
_POLICY = policy.default.clone(linesep="\r\n", max_line_length=998)
ET.register_namespace("env", SOAP)
ET.register_namespace("mm7", NS)


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


# -- writing ---------------------------------------------------------------------------------


def new_transaction_id() -> str:
    return secrets.token_hex(8)


def submit_request(submit: Submit) -> tuple[bytes, str]:
    """A SubmitReq as an HTTP body and its Content-Type."""
    body = _element("SubmitReq")
    _text(body, "MM7Version", VERSION)
    identification = _text(body, "SenderIdentification")
    _text(identification, "VASPID", submit.vasp_id)
    if submit.vas_id:
        _text(identification, "VASID", submit.vas_id)
    _address(_text(identification, "SenderAddress"), submit.sender)
    _address(_text(_text(body, "Recipients"), "To"), submit.recipient)
    _text(body, "DeliveryReport", "true" if submit.delivery_report else "false")
    return _with_content(body, submit.transaction_id, submit.text, submit.attachments)


def deliver_request(deliver: Deliver) -> tuple[bytes, str]:
    """A DeliverReq (the relay's side: the simulator writes it)."""
    body = _element("DeliverReq")
    _text(body, "MM7Version", VERSION)
    _address(_text(body, "Sender"), deliver.sender)
    _address(_text(_text(body, "Recipients"), "To"), deliver.recipient)
    if deliver.subject:
        _text(body, "Subject", deliver.subject)
    return _with_content(body, deliver.transaction_id, deliver.text, deliver.attachments)


def delivery_report_request(report: DeliveryReport) -> tuple[bytes, str]:
    """A DeliveryReportReq (the relay's side: the simulator writes it)."""
    body = _element("DeliveryReportReq")
    _text(body, "MM7Version", VERSION)
    _text(body, "MessageID", report.message_id)
    _address(_text(body, "Recipient"), report.recipient)
    _address(_text(body, "Sender"), report.sender)
    _text(body, "MMStatus", report.mm_status)
    return _envelope(report.transaction_id, body), "text/xml; charset=utf-8"


def answer(kind: str, transaction_id: str, *, message_id: str | None = None) -> bytes:
    """A success answer: SubmitRsp (with the relay's MessageID), DeliverRsp or
    DeliveryReportRsp."""
    body = _element(kind)
    _text(body, "MM7Version", VERSION)
    status = _text(body, "Status")
    _text(status, "StatusCode", str(int(Mm7Status.SUCCESS)))
    _text(status, "StatusText", "Success")
    if message_id is not None:
        _text(body, "MessageID", message_id)
    return _envelope(transaction_id, body)


def fault(transaction_id: str, status: int, text: str, *, relay: bool = True) -> bytes:
    """A refusal: a SOAP fault with an RSErrorRsp (from a relay) or VASPErrorRsp (from us)."""
    envelope = ET.Element(f"{{{SOAP}}}Envelope")
    _header(envelope, transaction_id)
    soap_fault = ET.SubElement(ET.SubElement(envelope, f"{{{SOAP}}}Body"), f"{{{SOAP}}}Fault")
    ET.SubElement(soap_fault, "faultcode").text = "env:Client" if status < 3000 else "env:Server"
    ET.SubElement(soap_fault, "faultstring").text = text
    error = _element("RSErrorRsp" if relay else "VASPErrorRsp")
    _text(error, "MM7Version", VERSION)
    detail = _text(error, "Status")
    _text(detail, "StatusCode", str(status))
    _text(detail, "StatusText", text)
    ET.SubElement(soap_fault, "detail").append(error)
    return ET.tostring(envelope, encoding="utf-8", xml_declaration=True)


# -- reading ---------------------------------------------------------------------------------


def parse_answer(body: bytes, content_type: str, kind: str = "SubmitRsp") -> Answer:
    """The answer to a request: `kind` (SubmitRsp, DeliverRsp, DeliveryReportRsp), or a
    fault with its status."""
    envelope, _ = _soap(body, content_type)
    element = _request_element(envelope)
    if _local(element.tag) == "Fault":
        error = next((e for e in element.iter() if _local(e.tag).endswith("ErrorRsp")), None)
        if error is None:
            text = _child_text(element, "faultstring") or "a SOAP fault without a status"
            return Answer(int(Mm7Status.SERVER_ERROR), text, None)
        element = error
    elif _local(element.tag) != kind:
        raise Malformed(f"expected {kind}, got {_local(element.tag)}")
    status, text = _status(element)
    return Answer(status, text, _child_text(element, "MessageID"))


def parse_relay_request(body: bytes, content_type: str) -> DeliveryReport | Deliver:
    """What a relay posts to us: a DeliveryReportReq or a DeliverReq."""
    envelope, parts = _soap(body, content_type)
    transaction_id = _transaction_id(envelope)
    element = _request_element(envelope)
    kind = _local(element.tag)
    if kind == "DeliveryReportReq":
        message_id = _child_text(element, "MessageID")
        status = _child_text(element, "MMStatus")
        if not message_id or not status:
            raise Malformed("DeliveryReportReq needs a MessageID and an MMStatus")
        return DeliveryReport(
            transaction_id,
            message_id,
            _address_of(element, "Recipient"),
            _address_of(element, "Sender"),
            status,
        )
    if kind == "DeliverReq":
        recipients = _child(element, "Recipients")
        text, attachments = _content(element, parts)
        return Deliver(
            transaction_id,
            _address_of(element, "Sender"),
            _address_of(recipients, "To") if recipients is not None else "",
            _child_text(element, "Subject") or "",
            text,
            attachments,
        )
    raise Malformed(f"{kind} is not a request a relay sends us")


def parse_submit(body: bytes, content_type: str) -> Submit:
    """A SubmitReq as the relay reads it (the simulator does)."""
    envelope, parts = _soap(body, content_type)
    element = _request_element(envelope)
    if _local(element.tag) != "SubmitReq":
        raise Malformed(f"expected SubmitReq, got {_local(element.tag)}")
    identification = _child(element, "SenderIdentification")
    if identification is None:
        raise Malformed("SubmitReq needs SenderIdentification")
    recipients = _child(element, "Recipients")
    to = _address_of(recipients, "To") if recipients is not None else ""
    if not to:
        raise Malformed("SubmitReq needs a recipient")
    text, attachments = _content(element, parts)
    return Submit(
        transaction_id=_transaction_id(envelope),
        vasp_id=_child_text(identification, "VASPID") or "",
        vas_id=_child_text(identification, "VASID") or "",
        sender=_address_of(identification, "SenderAddress"),
        recipient=to,
        text=text,
        attachments=attachments,
        delivery_report=(_child_text(element, "DeliveryReport") or "").lower() == "true",
    )


# -- helpers ---------------------------------------------------------------------------------


def _element(kind: str) -> ET.Element:
    return ET.Element(f"{{{NS}}}{kind}")


def _text(parent: ET.Element, name: str, value: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, f"{{{NS}}}{name}")
    if value is not None:
        child.text = value
    return child


def _address(parent: ET.Element, address: str) -> None:
    """E.164 as a Number (without '+', as relays write it); anything else a ShortCode."""
    digits = address.removeprefix("+")
    if address.startswith("+") and digits.isdigit():
        _text(parent, "Number", digits)
    else:
        _text(parent, "ShortCode", address)


def _header(envelope: ET.Element, transaction_id: str) -> None:
    header = ET.SubElement(envelope, f"{{{SOAP}}}Header")
    transaction = ET.SubElement(header, f"{{{NS}}}TransactionID")
    transaction.set(f"{{{SOAP}}}mustUnderstand", "1")
    transaction.text = transaction_id


def _envelope(transaction_id: str, body: ET.Element) -> bytes:
    envelope = ET.Element(f"{{{SOAP}}}Envelope")
    _header(envelope, transaction_id)
    ET.SubElement(envelope, f"{{{SOAP}}}Body").append(body)
    return ET.tostring(envelope, encoding="utf-8", xml_declaration=True)


def _with_content(
    body: ET.Element, transaction_id: str, text: str, attachments: tuple[Attachment, ...]
) -> tuple[bytes, str]:
    """The SOAP and the message's content as one multipart/related body."""
    content = EmailMessage(policy=_POLICY)
    content.make_related()
    smil_regions = []
    if text:
        # Base64: the text arrives byte for byte, line ends included.
        content.add_related(
            text.encode(),
            maintype="text",
            subtype="plain",
            cid="<text>",
            params={"charset": "utf-8"},
        )
        smil_regions.append('<text src="cid:text"/>')
    for n, attachment in enumerate(attachments):
        maintype, _, subtype = attachment.content_type.partition("/")
        cid = f"<media{n}>"
        content.add_related(
            attachment.data,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            cid=cid,
            filename=attachment.name or None,
        )
        tag = {"image": "img", "video": "video", "audio": "audio"}.get(maintype, "ref")
        smil_regions.append(f'<{tag} src="cid:media{n}"/>')
    smil = "<smil><body><par>" + "".join(smil_regions) + "</par></body></smil>"
    content.add_related(smil.encode(), maintype="application", subtype="smil", cid="<smil>")
    content_id = make_msgid("content", "smsvia")
    ET.SubElement(body, f"{{{NS}}}Content", href=f"cid:{content_id.strip('<>')}")
    soap = EmailMessage(policy=_POLICY)
    xml = _envelope(transaction_id, body).decode()
    soap.set_content(xml, subtype="xml", cte="8bit", cid=SOAP_CID)
    content["Content-ID"] = content_id
    whole = EmailMessage(policy=_POLICY)
    whole.make_related()
    whole.attach(soap)
    whole.attach(content)
    whole.set_param("type", "text/xml")
    whole.set_param("start", SOAP_CID)
    raw = whole.as_bytes(policy=_POLICY)
    _, _, payload = raw.partition(b"\r\n\r\n")
    return payload, whole["Content-Type"]


def _soap(body: bytes, content_type: str) -> tuple[ET.Element, dict[str, Message]]:
    """The SOAP envelope, and the other parts of a multipart body by Content-ID."""
    parts: dict[str, Message] = {}
    if content_type.lower().startswith("multipart/"):
        message = BytesParser(policy=_POLICY).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body
        )
        if not message.is_multipart():
            raise Malformed("a multipart body without parts")
        subparts = message.get_payload()
        assert isinstance(subparts, list)
        if not subparts:
            raise Malformed("a multipart body without parts")
        start = message.get_param("start")
        soap = next((p for p in subparts if start and p["Content-ID"] == start), subparts[0])
        for part in subparts:
            if part is not soap and part["Content-ID"]:
                parts[str(part["Content-ID"]).strip().strip("<>")] = part
        xml = soap.get_payload(decode=True)
        if not isinstance(xml, bytes):
            raise Malformed("the SOAP part is empty")
    else:
        xml = body
    try:
        envelope = SafeET.fromstring(xml)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise Malformed(f"the SOAP part is not XML: {exc}") from exc
    if _local(envelope.tag) != "Envelope":
        raise Malformed("the SOAP part is not a SOAP envelope")
    return envelope, parts


def _request_element(envelope: ET.Element) -> ET.Element:
    body = _child(envelope, "Body")
    if body is None or len(body) == 0:
        raise Malformed("the SOAP envelope has no Body")
    return body[0]


def _transaction_id(envelope: ET.Element) -> str:
    header = _child(envelope, "Header")
    transaction = _child(header, "TransactionID") if header is not None else None
    return (transaction.text or "").strip() if transaction is not None else ""


def _content(element: ET.Element, parts: dict[str, Message]) -> tuple[str, tuple[Attachment, ...]]:
    """The text and the media of the content `<Content href="cid:…"/>` names."""
    reference = _child(element, "Content")
    if reference is None:
        return "", ()
    href = reference.get("href", "").removeprefix("cid:").strip("<>")
    content = parts.get(href)
    if content is None:
        raise Malformed(f"Content names cid:{href}, which is not in the body")
    leaves = [p for p in content.walk() if not p.is_multipart()]
    texts, attachments = [], []
    for leaf in leaves:
        kind = leaf.get_content_type()
        data = leaf.get_payload(decode=True)
        if not isinstance(data, bytes) or kind == "application/smil":
            continue
        if kind == "text/plain":
            texts.append(data.decode(leaf.get_content_charset() or "utf-8", "replace"))
        else:
            attachments.append(Attachment(kind, data, leaf.get_filename() or ""))
    return "\n".join(texts), tuple(attachments)


def _status(element: ET.Element) -> tuple[int, str]:
    status = _child(element, "Status")
    code = _child_text(status, "StatusCode") if status is not None else None
    if code is None or not code.strip().isdigit():
        raise Malformed(f"{_local(element.tag)} has no numeric StatusCode")
    return int(code), (_child_text(status, "StatusText") or "") if status is not None else ""


def _address_of(parent: ET.Element, name: str) -> str:
    holder = _child(parent, name)
    if holder is None:
        return ""
    for child in holder:
        value = (child.text or "").strip()
        if _local(child.tag) == "Number" and value:
            return value if value.startswith("+") else f"+{value}"
        if value:
            return value
    return (holder.text or "").strip()


def _child(parent: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in parent if _local(c.tag) == name), None)


def _child_text(parent: ET.Element, name: str) -> str | None:
    child = _child(parent, name)
    return None if child is None or child.text is None else child.text.strip()


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
