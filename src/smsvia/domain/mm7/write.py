"""Writing MM7: requests and answers as HTTP bodies (SOAP, and multipart/related when a
message's content goes with it), built with the standard email package."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

from smsvia.domain.mm7.types import (
    NS,
    SOAP,
    SOAP_CID,
    VERSION,
    Attachment,
    Deliver,
    DeliveryReport,
    Mm7Status,
    Submit,
)

# HTTP bodies: CRLF line ends; no header folding short of the RFC's 998 characters.
_POLICY = policy.default.clone(linesep="\r\n", max_line_length=998)
# Written with the prefixes MMSC logs show: env: and mm7:.
ET.register_namespace("env", SOAP)
ET.register_namespace("mm7", NS)


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
