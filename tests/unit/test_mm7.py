"""MM7's SOAP-in-multipart as both sides write and read it, and what is refused as malformed."""

from __future__ import annotations

import pytest

from smsvia.domain import mm7
from smsvia.domain.receipt_ids import fitted

PICTURE = mm7.Attachment("image/png", b"\x89PNG\r\n\x1a\n\x00\xff" * 50, "box.png")


def submit(text: str = "Your order shipped", attachments=(PICTURE,)) -> mm7.Submit:
    return mm7.Submit("tx1", "shop", "svc", "+15005550006", "+12125551000", text, attachments)


@pytest.mark.parametrize("text", ["Hello wörld", "two\nlines\n", "", "😀 emoji"])
def test_a_submit_reads_back_byte_for_byte(text):
    sent = submit(text)
    body, content_type = mm7.submit_request(sent)
    assert content_type.startswith("multipart/related")
    assert 'start="<mm7-soap>"' in content_type
    assert mm7.parse_submit(body, content_type) == sent


def test_a_short_code_sender_is_a_short_code_and_a_number_has_no_plus():
    sent = mm7.Submit("tx", "shop", "", "SHOP", "+447700900123", "hi")
    body, _ = mm7.submit_request(sent)
    assert b"<mm7:ShortCode>SHOP</mm7:ShortCode>" in body
    assert b"<mm7:Number>447700900123</mm7:Number>" in body
    assert b"VASID" not in body


def test_a_relays_submit_answer_in_another_release_namespace():
    answer = b"""<?xml version="1.0"?>
    <soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"
      xmlns="http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-5-MM7-1-2">
      <soap-env:Header>
        <TransactionID soap-env:mustUnderstand="1">tx1</TransactionID>
      </soap-env:Header>
      <soap-env:Body><SubmitRsp><MM7Version>5.3.0</MM7Version>
        <Status><StatusCode>1000</StatusCode><StatusText>ok</StatusText></Status>
        <MessageID>369500617770864640</MessageID></SubmitRsp></soap-env:Body>
    </soap-env:Envelope>"""
    read = mm7.parse_answer(answer, "application/xml")
    assert read == mm7.Answer(1000, "ok", "369500617770864640")
    assert read.accepted


def test_a_fault_carries_the_relays_status():
    read = mm7.parse_answer(mm7.fault("tx1", 2004, "Content refused"), "text/xml")
    assert read == mm7.Answer(2004, "Content refused", None)
    assert not read.accepted


def test_a_fault_without_a_status_is_a_server_error():
    bare = b"""<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>
      <e:Fault><faultcode>e:Server</faultcode><faultstring>boom</faultstring></e:Fault>
      </e:Body></e:Envelope>"""
    assert mm7.parse_answer(bare, "text/xml") == mm7.Answer(3000, "boom", None)


def test_success_without_a_message_id_is_not_accepted():
    body = mm7.answer("SubmitRsp", "tx1")
    assert not mm7.parse_answer(body, "text/xml").accepted


@pytest.mark.parametrize(
    ("mm_status", "state"),
    [
        ("Retrieved", "DELIVRD"),
        ("Rejected", "REJECTD"),
        ("Expired", "EXPIRED"),
        ("Forwarded", "ENROUTE"),
        ("Whatever", "UNKNOWN"),
    ],
)
def test_delivery_reports_read_back_with_their_state(mm_status, state):
    report = mm7.DeliveryReport("tx2", "m-1", "+12125551000", "+15005550006", mm_status)
    body, content_type = mm7.delivery_report_request(report)
    read = mm7.parse_relay_request(body, content_type)
    assert read == report and read.state == state


def test_a_relays_long_message_id_reads_as_it_will_be_stored():
    long_id = "mmsc-" * 20
    report = mm7.DeliveryReport("tx2", long_id, "+12125551000", "+15005550006", "Retrieved")
    read = mm7.parse_relay_request(*mm7.delivery_report_request(report))
    assert read.message_id == fitted(long_id) and len(read.message_id) == 64


def test_an_inbound_mms_reads_back_with_its_media():
    deliver = mm7.Deliver("tx3", "+12125551000", "+15005550006", "Look", "my size?", (PICTURE,))
    body, content_type = mm7.deliver_request(deliver)
    assert mm7.parse_relay_request(body, content_type) == deliver


BOMB = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Envelope>&lol2;</Envelope>"""


@pytest.mark.parametrize(
    ("body", "content_type", "why"),
    [
        (b"not xml at all", "text/xml", "not XML"),
        (BOMB, "text/xml", "not XML"),
        (b"<html/>", "text/xml", "not a SOAP envelope"),
        (
            b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"/>',
            "text/xml",
            "no Body",
        ),
        (b"--x--\r\n", 'multipart/related; boundary="x"', "without parts"),
    ],
)
def test_garbage_is_malformed_with_the_reason(body, content_type, why):
    with pytest.raises(mm7.Malformed, match=why):
        mm7.parse_relay_request(body, content_type)


def test_a_report_without_a_message_id_is_malformed():
    body = mm7.delivery_report_request(
        mm7.DeliveryReport("tx", "", "+12125551000", "+15005550006", "Retrieved")
    )[0]
    with pytest.raises(mm7.Malformed, match="MessageID"):
        mm7.parse_relay_request(body, "text/xml")


def test_content_that_names_a_missing_part_is_malformed():
    body, content_type = mm7.submit_request(submit())
    broken = body.replace(b'href="cid:', b'href="cid:gone')
    with pytest.raises(mm7.Malformed, match="not in the body"):
        mm7.parse_submit(broken, content_type)


def test_a_submit_answer_in_place_of_a_request_is_malformed():
    with pytest.raises(mm7.Malformed, match="SubmitRsp is not a request"):
        mm7.parse_relay_request(mm7.answer("SubmitRsp", "tx", message_id="m"), "text/xml")
