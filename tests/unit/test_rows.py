"""Rows read with Core remember what they were read as, so only changes are written."""

from __future__ import annotations

from smsvia.store.outbox import PartRow


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
