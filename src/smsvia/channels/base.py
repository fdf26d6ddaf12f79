"""What every SMS channel offers the worker, and what it reports back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from smsvia.domain.encoding import Part
from smsvia.domain.phone import WrittenNumber
from smsvia.domain.receipts import Receipt


class PartOutcome(StrEnum):
    ACCEPTED = "accepted"  # the SMSC took it (and gave an id, as nearly all do)
    REJECTED = "rejected"  # refused for good: do not retry
    RETRY = "retry"  # refused for now (throttled, queue full, SMSC error): send again later
    NOT_SENT = "not_sent"  # never left us (no connection): send again later
    AMBIGUOUS = "ambiguous"  # written, but the answer never came: never resend blindly


@dataclass(frozen=True, slots=True)
class PartResult:
    sequence: int
    outcome: PartOutcome
    smsc_message_id: str | None = None
    error_code: int | None = None  # Twilio-style, for REJECTED
    detail: str = ""


class PartGate(Protocol):
    """What a channel asks before each part goes on the wire, and tells once it is answered:
    how a crash leaves only the parts really in flight in doubt (dispatch/journal.py)."""

    async def writing(self, sequence: int) -> bool:
        """The intent to write this part is durable; False: it must not go out."""
        ...

    def answered(self, result: PartResult) -> None:
        """What became of a part `writing` allowed (any outcome, NOT_SENT included)."""
        ...


@dataclass(frozen=True, slots=True)
class SmsSubmission:
    reference: str  # the message SID, for logs
    source: str
    destination: str
    parts: tuple[Part, ...]
    want_receipt: bool = True
    gate: PartGate | None = None


@dataclass(frozen=True, slots=True)
class ReceiptHeard:
    """A delivery receipt that arrived on a connector."""

    connector: str
    receipt: Receipt
    recipient: str  # the handset the receipt is about; "" when it cannot be told


@dataclass(frozen=True, slots=True)
class MessageHeard:
    """An inbound (mobile-originated) message that arrived on a connector."""

    connector: str
    source: WrittenNumber  # the handset
    destination: WrittenNumber  # ours, in the country whose number it reads as
    text: str
    # The bind it came on, unique across processes and restarts: an SMSC offers a text
    # again only on a later one ("": a channel whose texts are never offered again).
    link: str = ""


@dataclass(frozen=True, slots=True)
class PartHeard:
    """One part of a long inbound message (a concatenated SMS): the text exists only once
    every part is in, wherever and in whatever order they come."""

    connector: str
    source: WrittenNumber
    destination: WrittenNumber
    part: Part  # its place (reference, sequence, total), coding and payload


@dataclass(frozen=True, slots=True)
class AnsweredLate:
    """The SMSC's answer to a submit it was given up on (no answer within the response
    timeout, so its part was left ambiguous): what really became of that part."""

    connector: str
    reference: str  # the message SID, as in SmsSubmission
    result: PartResult


Inbound = ReceiptHeard | MessageHeard | PartHeard | AnsweredLate
# Takes what a channel heard and returns an awaitable that ends once it is durable (a raise:
# not stored). The channel answers the SMSC only then, so a crash before never loses it: the
# SMSC offers it again. The awaitable may give what to call once the SMSC surely has that
# answer (channels/smpp_session.py tells when).
Confirm = Callable[[], None]
InboundHandler = Callable[[Inbound], Awaitable[Confirm | None]]


class SmsChannel(Protocol):
    name: str

    async def start(self, on_inbound: InboundHandler) -> None: ...

    async def submit(self, submission: SmsSubmission) -> list[PartResult]: ...

    @property
    def connected(self) -> bool: ...

    async def close(self) -> None: ...
