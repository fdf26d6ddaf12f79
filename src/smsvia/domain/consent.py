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
