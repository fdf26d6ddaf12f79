"""What the SMSC simulator does (`SmscBehaviour`: credentials, receipt delay, throttling,
dropped links, how it numbers messages) and what it records of each submit it accepted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class SmscBehaviour:
    system_id: str | None = "smsvia"  # None accepts any credentials
    password: str | None = "secret"
    dlr_delay: float = 0.05
    throttle_tps: int | None = None  # answer ESME_RTHROTTLED above this many submits a second
    drop_after: int | None = None  # cut the connection, unanswered, at every Nth submit
    respond_after: float = 0.0  # hold each submit_sm_resp this long (to observe windows)
    ids: str = "hex"  # one of ID_STYLES
    # Which destinations get an UNDELIV receipt (digits only, no "+").
    undeliverable: Callable[[str], bool] = lambda destination: destination.endswith("9999")
    first_id: int | None = None  # None: anywhere, as a real SMSC's ids start
    answer_enquire_link: bool = True  # False: a link that looks up and answers nothing


# How the SMSC writes message number n: (in submit_sm_resp, in the receipt).
ID_STYLES = {
    "hex": lambda n: (f"{n:08x}", f"{n:08x}"),
    "decimal": lambda n: (str(n), str(n)),
    "hex-to-decimal": lambda n: (format(n, "x"), str(n)),
    "zero-padded": lambda n: (f"{n:010d}", str(n)),
    # ESME_ROK with an empty message_id, as a few SMSCs answer; the receipt has an id all
    # the same, one we were never given.
    "unnumbered": lambda n: ("", f"{n:08x}"),
}


@dataclass(slots=True)
class AcceptedSubmit:
    message_id: str  # as submit_sm_resp gave it
    source: str
    destination: str
    short_message: bytes
    data_coding: int
    esm_class: int
    registered_delivery: int
    receipt_id: str = ""  # the id its receipt names
    answered: bool = False  # True once submit_sm_resp went out on a live connection
