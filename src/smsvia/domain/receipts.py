"""SMPP delivery receipts: which submit they answer and what they mean for the message.

The id and state come from the `receipted_message_id` and `message_state` TLVs when the SMSC
sends them, else from the de-facto standard text (SMPP 3.4 Appendix B):
`id:IIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:`
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from smsvia.domain.receipt_ids import fitted

# SMPP 3.4 §5.2.12: esm_class bits 2-5 give a deliver_sm's message type.
ESM_CLASS_SMSC_RECEIPT = 0x04
ESM_CLASS_SME_ACK = 0x08  # SME delivery acknowledgement
ESM_CLASS_INTERMEDIATE = 0x20
_RECEIPT_BITS = ESM_CLASS_SMSC_RECEIPT | ESM_CLASS_SME_ACK | ESM_CLASS_INTERMEDIATE

# SMPP 3.4 §5.2.28 message_state values (and SMPP 5.0's 9).
_STATE_NAMES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
    9: "SKIPPED",
}

# Other spellings SMSCs write in `stat:`, read as the states above: SMPP 5.0's whole words,
# and the intermediate states Kannel takes as "buffered" (it writes BUFFRED itself when it
# relays a message to the next SMSC), so that none of them ends a message as undelivered.
_SPELLINGS = {
    "DELIVERED": "DELIVRD",
    "DELIVERD": "DELIVRD",
    "UNDELIVERABLE": "UNDELIV",
    "UNDELIVERED": "UNDELIV",
    "REJECTED": "REJECTD",
    "ACCEPTED": "ACCEPTD",
    "ACKED": "ACCEPTD",
    "BUFFRED": "ENROUTE",
    "BUFFERD": "ENROUTE",
    "BUFFERED": "ENROUTE",
    "SCHEDULED": "ENROUTE",
}

_FIELD = re.compile(
    r"(?P<key>id|sub|dlvrd|submit date|done date|stat|err|text)\s*:\s*(?P<value>\S*)",
    re.IGNORECASE,
)


class Outcome(StrEnum):
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    PENDING = "pending"  # an intermediate state: still on its way


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    error_code: int | None
    description: str


# What each final state means for the shop, with Twilio's 300xx codes.
VERDICTS = {
    "DELIVRD": Verdict(Outcome.DELIVERED, None, "delivered to the handset"),
    "UNDELIV": Verdict(Outcome.UNDELIVERED, 30003, "Unreachable destination handset"),
    "EXPIRED": Verdict(
        Outcome.UNDELIVERED, 30003, "Unreachable destination handset (expired at the SMSC)"
    ),
    "REJECTD": Verdict(Outcome.UNDELIVERED, 30007, "Message filtered or rejected by the carrier"),
    "DELETED": Verdict(Outcome.UNDELIVERED, 30008, "Unknown error (deleted at the SMSC)"),
    "UNKNOWN": Verdict(Outcome.UNDELIVERED, 30008, "Unknown error"),
    "ENROUTE": Verdict(Outcome.PENDING, None, "on its way"),
    "ACCEPTD": Verdict(Outcome.PENDING, None, "accepted by the network"),
    "SKIPPED": Verdict(Outcome.UNDELIVERED, 30008, "Unknown error (skipped at the SMSC)"),
}


@dataclass(frozen=True, slots=True)
class Receipt:
    message_id: str  # the id the SMSC gave in submit_sm_resp
    state: str  # DELIVRD, UNDELIV, ...
    error: str  # the network's own error code, as text
    text: str  # the first characters of the message, when the SMSC echoes them

    @property
    def verdict(self) -> Verdict:
        return verdict_of(self.state)


def verdict_of(state: str) -> Verdict:
    """What a receipt's state, as the SMSC wrote it, means for the message (an unknown
    state is UNKNOWN's, as Kannel takes anything it does not know for a failure)."""
    return VERDICTS.get(_SPELLINGS.get(state, state), VERDICTS["UNKNOWN"])


class NotAReceipt(ValueError):
    """A deliver_sm that is a receipt by its esm_class but says nothing usable."""


def is_receipt(esm_class: int) -> bool:
    """A receipt, not a customer's text: any of the receipt bits set, alone or together, as
    Kannel reads them (some SMSCs send their receipts as SME acknowledgements, or with two
    type bits at once; a customer's text has none of them)."""
    return bool(esm_class & _RECEIPT_BITS)


def parse_receipt(
    short_message: bytes,
    receipted_message_id: bytes | None = None,
    message_state: int | None = None,
) -> Receipt:
    """Read a receipt; the TLVs, when given, win over the text."""
    text = _text_of(short_message)
    fields: dict[str, str] = {}
    for match in _FIELD.finditer(text):
        key = match.group("key").lower()
        if key == "text":
            fields[key] = text[match.start("value") :]
            break
        fields.setdefault(key, match.group("value"))
    message_id = (
        receipted_message_id.rstrip(b"\0").decode("latin-1") if receipted_message_id else ""
    ) or fields.get("id", "")
    state = _STATE_NAMES.get(message_state or 0) or fields.get("stat", "").upper()
    if not message_id:
        raise NotAReceipt(f"receipt names no message id: {text[:80]!r}")
    if not state:
        raise NotAReceipt(f"receipt gives no state: {text[:80]!r}")
    return Receipt(fitted(message_id), state, fields.get("err", ""), fields.get("text", ""))


def _text_of(short_message: bytes) -> str:
    """A receipt's text: ASCII as a rule, whatever its data_coding says (many SMSCs copy the
    submit's UCS-2 into it); a few do write it in UCS-2, whose first octet is then a NUL,
    which no ASCII text begins with."""
    if short_message[:1] == b"\0":
        return short_message.decode("utf-16-be", "replace")
    return short_message.decode("latin-1")


def error_description(code: int | None) -> str:
    return _DESCRIPTIONS.get(code, "Unknown error")


_DESCRIPTIONS = {
    v.error_code: v.description.split(" (")[0] for v in VERDICTS.values() if v.error_code
}
