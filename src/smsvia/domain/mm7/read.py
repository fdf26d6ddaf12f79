"""Reading MM7, namespace-agnostic (elements by their local names), with defusedxml: what
comes from outside never expands entities. Bytes that are not MM7 raise Malformed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from email import policy
from email.message import Message
from email.parser import BytesParser

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from smsvia.domain.mm7.types import (
    Answer,
    Attachment,
    Deliver,
    DeliveryReport,
    Malformed,
    Mm7Status,
    Submit,
)
from smsvia.domain.receipt_ids import fitted

_POLICY = policy.default.clone(linesep="\r\n", max_line_length=998)


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
    message_id = _child_text(element, "MessageID")
    return Answer(status, text, fitted(message_id) if message_id else message_id)


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
            fitted(message_id),
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
