"""The message state machine: Twilio's statuses and which changes are allowed."""

from __future__ import annotations

from enum import StrEnum

from smsvia.domain.errors import DomainError


class Status(StrEnum):
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    READ = "read"
    CANCELED = "canceled"
    RECEIVED = "received"


_ALLOWED: dict[Status, frozenset[Status]] = {
    Status.ACCEPTED: frozenset({Status.QUEUED, Status.SCHEDULED, Status.FAILED}),
    Status.SCHEDULED: frozenset({Status.QUEUED, Status.CANCELED, Status.FAILED}),
    # queued -> failed covers expiry (ValidityPeriod) and permanent submit errors.
    Status.QUEUED: frozenset({Status.SENDING, Status.FAILED, Status.CANCELED}),
    # sending -> queued: throttled or the connection dropped before the submit went out.
    Status.SENDING: frozenset(
        {Status.QUEUED, Status.SENT, Status.FAILED, Status.UNDELIVERED, Status.DELIVERED}
    ),
    # sent -> queued: an RCS message revoked in time goes out again as SMS.
    Status.SENT: frozenset(
        {Status.DELIVERED, Status.UNDELIVERED, Status.FAILED, Status.READ, Status.QUEUED}
    ),
    Status.DELIVERED: frozenset({Status.READ}),
    Status.UNDELIVERED: frozenset(),
    Status.FAILED: frozenset(),
    Status.READ: frozenset(),
    Status.CANCELED: frozenset(),
    Status.RECEIVED: frozenset(),
}

# Nothing more will happen to a message in one of these (a delivered RCS message may still be
# read, which is allowed above, but it needs no more work from us).
FINAL = frozenset(
    {
        Status.DELIVERED,
        Status.UNDELIVERED,
        Status.FAILED,
        Status.READ,
        Status.CANCELED,
        Status.RECEIVED,
    }
)


class InvalidTransition(DomainError):
    code = 100010


def can_move(current: Status, new: Status) -> bool:
    return new in _ALLOWED[current]


def check_move(current: Status, new: Status) -> None:
    if not can_move(current, new):
        raise InvalidTransition(f"a {current} message cannot become {new}")
