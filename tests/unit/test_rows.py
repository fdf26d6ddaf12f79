"""Rows read with Core remember what they were read as, so only changes are written."""

from __future__ import annotations

from datetime import UTC, datetime

from smsvia.store.outbox import PartRow, receipt_row


def a_part(**values) -> PartRow:
    return PartRow.of({"id": 7, "message_id": 3, "sequence": 1, "status": "sending", **values})


def test_a_row_as_read_has_no_changes():
    part = a_part()
    part.status = "sending"  # set to what it already was
    assert part.changes() == {}


def test_changes_name_only_the_columns_set_to_something_new():
    part = a_part(smsc_message_id=None)
    part.status, part.smsc_message_id = "submitted", "a1"
    assert part.changes() == {"status": "submitted", "smsc_message_id": "a1"}


def test_columns_not_given_are_none_and_a_saved_row_starts_afresh():
    part = a_part()
    assert (part.error_code, part.done_at) == (None, None)
    part.error_code = 30003
    part._saved()
    assert part.changes() == {}


def test_a_receipts_state_and_error_are_cut_to_their_columns_and_its_id_is_not():
    now = datetime(2026, 12, 3, tzinfo=UTC)
    long_id = "7" * 64  # fitted to 64 characters already when read (domain/receipt_ids)
    row = receipt_row(
        1, long_id, "ENROUTE_TO_THE_NEXT_SMSC", "err-0x45-from-hlr-lookup", "", received_at=now
    )
    assert (row["state"], row["error"]) == ("ENROUTE_TO_THE_N", "err-0x45-from-hl")
    assert row["smsc_message_id"] == long_id
    assert (row["applied_at"], row["attempts"], row["received_at"]) == (None, 0, now)
