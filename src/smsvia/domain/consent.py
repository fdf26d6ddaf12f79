"""Consent: what a keyword in an inbound message means, and the hash chain that makes the
consent ledger tamper-evident.

Keywords are matched on the whole message, case- and space-insensitively ("Stop", " STOP ",
"s t o p" all count), as carriers' own STOP handling does: a longer sentence that merely
contains "stop" is a message, not an opt-out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
GENESIS = "0" * 64  # the "previous hash" of an account's first ledger entry


class Keyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


class ConsentKind(StrEnum):
    """What a ledger entry records."""

    OPT_IN_REQUESTED = "opt_in_requested"
    OPT_IN_CONFIRMED = "opt_in_confirmed"
    OPTED_OUT = "opted_out"
    OPTED_BACK_IN = "opted_back_in"
    HELP_REQUESTED = "help_requested"
    IMPORTED = "imported"


# The entries that decide whether a number may be texted, latest first wins.
OPTING_OUT = frozenset({ConsentKind.OPTED_OUT})
OPTING_IN = frozenset(
    {ConsentKind.OPT_IN_CONFIRMED, ConsentKind.OPTED_BACK_IN, ConsentKind.IMPORTED}
)
DECIDING = OPTING_OUT | OPTING_IN
# Express consent to marketing: a confirmed double opt-in, or one the shop collected
# elsewhere and imported with its evidence. START alone only lifts an earlier STOP.
EXPRESS = frozenset({ConsentKind.OPT_IN_CONFIRMED, ConsentKind.IMPORTED})
# How long a "Reply Y to confirm" stays open.
CONFIRM_WITHIN_DAYS = 7


def opted_out(newest: str | None) -> bool:
    """Whether the newest deciding entry (None: there is none) keeps all texts away."""
    return newest in OPTING_OUT


def may_market(newest: str | None, express_given: bool) -> bool:
    """Marketing needs express consent that no later STOP has withdrawn (START after a STOP
    restores it; START alone never gave it)."""
    return newest in OPTING_IN and express_given


def is_confirmation(text: str) -> bool:
    """Y or YES (any case, any spacing): the answer to "Reply Y to confirm"."""
    return "".join(text.split()).upper() in {"Y", "YES"}


def keyword(text: str) -> Keyword | None:
    """The keyword the whole message is, if it is one."""
    word = "".join(text.split()).upper()
    if word in OPT_OUT_KEYWORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_KEYWORDS:
        return Keyword.OPT_IN
    if word in HELP_KEYWORDS:
        return Keyword.HELP
    return None


def entry_hash(previous: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 over the previous entry's hash and this entry's fields (canonical JSON):
    changing or removing any earlier entry changes every hash after it."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{previous}\n{canonical}".encode()).hexdigest()
