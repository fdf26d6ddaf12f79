from itertools import pairwise

import pytest

from smsvia.domain.status import FINAL, InvalidTransition, Status, can_move, check_move


def test_the_sending_path_is_allowed():
    path = [Status.QUEUED, Status.SENDING, Status.SENT, Status.DELIVERED, Status.READ]
    assert all(can_move(a, b) for a, b in pairwise(path))


def test_a_delivered_message_cannot_go_back_to_sent():
    with pytest.raises(InvalidTransition):
        check_move(Status.DELIVERED, Status.SENT)


def test_only_scheduled_and_queued_can_be_canceled():
    assert {s for s in Status if can_move(s, Status.CANCELED)} == {
        Status.SCHEDULED,
        Status.QUEUED,
    }


def test_final_states_lead_nowhere_but_read():
    for status in FINAL:
        assert {s for s in Status if can_move(status, s)} <= {Status.READ}
