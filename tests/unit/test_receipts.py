import pytest

from smsvia.domain.receipt_ids import fitted
from smsvia.domain.receipts import (
    NotAReceipt,
    Outcome,
    is_receipt,
    parse_receipt,
)

TEXT = (
    b"id:0123abc sub:001 dlvrd:001 submit date:2611250930 done date:2611250931 "
    b"stat:DELIVRD err:000 text:Your order has"
)


def test_text_receipt_is_parsed():
    receipt = parse_receipt(TEXT)
    assert (receipt.message_id, receipt.state, receipt.error) == ("0123abc", "DELIVRD", "000")
    assert receipt.text == "Your order has"
    assert receipt.verdict.outcome == Outcome.DELIVERED


def test_tlvs_win_over_the_text():
    receipt = parse_receipt(TEXT, receipted_message_id=b"other\0", message_state=5)
    assert (receipt.message_id, receipt.state) == ("other", "UNDELIV")
    assert receipt.verdict.error_code == 30003


def test_an_id_longer_than_smpp_allows_is_fitted_as_its_submit_answers_was():
    long_id = "relay-eu-west-1.node-07." * 3 + "000000000001"
    from_text = parse_receipt(f"id:{long_id} stat:DELIVRD err:000".encode())
    from_tlv = parse_receipt(TEXT, receipted_message_id=long_id.encode() + b"\0")
    assert from_text.message_id == from_tlv.message_id == fitted(long_id)


@pytest.mark.parametrize(
    ("state", "outcome", "code"),
    [
        ("UNDELIV", Outcome.UNDELIVERED, 30003),
        ("EXPIRED", Outcome.UNDELIVERED, 30003),
        ("REJECTD", Outcome.UNDELIVERED, 30007),
        ("DELETED", Outcome.UNDELIVERED, 30008),
        ("UNKNOWN", Outcome.UNDELIVERED, 30008),
        ("ENROUTE", Outcome.PENDING, None),
        ("ACCEPTD", Outcome.PENDING, None),
        ("GIBBERISH", Outcome.UNDELIVERED, 30008),
        # Spellings some SMSCs use: SMPP 5.0's words, and what Kannel takes as buffered.
        ("DELIVERED", Outcome.DELIVERED, None),
        ("UNDELIVERABLE", Outcome.UNDELIVERED, 30003),
        ("REJECTED", Outcome.UNDELIVERED, 30007),
        ("SKIPPED", Outcome.UNDELIVERED, 30008),
        ("BUFFRED", Outcome.PENDING, None),
        ("BUFFERD", Outcome.PENDING, None),
        ("ACKED", Outcome.PENDING, None),
        ("ACCEPTED", Outcome.PENDING, None),
        ("SCHEDULED", Outcome.PENDING, None),
    ],
)
def test_states_map_to_outcomes_and_twilio_codes(state, outcome, code):
    receipt = parse_receipt(f"id:1 stat:{state} err:001".encode())
    assert receipt.state == state  # as the SMSC wrote it, for the timeline
    assert (receipt.verdict.outcome, receipt.verdict.error_code) == (outcome, code)


def test_smpp_5_skipped_state_is_read_from_the_tlv():
    receipt = parse_receipt(b"id:1 stat:DELIVRD", message_state=9)
    assert (receipt.state, receipt.verdict.outcome) == ("SKIPPED", Outcome.UNDELIVERED)


def test_a_receipt_written_in_ucs2_is_read():
    receipt = parse_receipt(TEXT.decode().encode("utf-16-be"))
    assert (receipt.message_id, receipt.state, receipt.error) == ("0123abc", "DELIVRD", "000")
    assert receipt.text == "Your order has"


def test_lower_case_and_extra_spaces_are_tolerated():
    assert parse_receipt(b"ID: 42 Stat: delivrd").state == "DELIVRD"


@pytest.mark.parametrize("garbage", [b"", b"hello there", b"stat:DELIVRD", b"id:5"])
def test_receipts_without_id_or_state_are_refused(garbage):
    with pytest.raises(NotAReceipt):
        parse_receipt(garbage)


def test_esm_class_tells_receipts_from_messages():
    assert is_receipt(0x04)
    assert is_receipt(0x20)
    assert is_receipt(0x08)  # SME delivery acknowledgement
    assert is_receipt(0x24)  # two type bits at once
    assert is_receipt(0x44)  # with UDHI
    assert not is_receipt(0x00)
    assert not is_receipt(0x40)  # a part of a customer's long text
    assert not is_receipt(0x10)  # SME manual/user acknowledgement: the customer's reply
