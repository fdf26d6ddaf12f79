"""Keywords and the consent ledger's hash chain."""

from __future__ import annotations

import pytest

from smsvia.domain.consent import (
    GENESIS,
    ConsentKind,
    Keyword,
    entry_hash,
    is_confirmation,
    keyword,
    may_market,
    opted_out,
)


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " Stop ",
        "s t o p",
        "STOPALL",
        "unsubscribe",
        "Cancel",
        "END",
        "quit",
        "REVOKE",
        "optout",
        "opt out",
    ],
)
def test_opt_out_keywords(text):
    assert keyword(text) == Keyword.OPT_OUT


@pytest.mark.parametrize("text", ["START", "yes", "Unstop", " y e s "])
def test_opt_in_keywords(text):
    assert keyword(text) == Keyword.OPT_IN


@pytest.mark.parametrize("text", ["HELP", "info", " Help "])
def test_help_keywords(text):
    assert keyword(text) == Keyword.HELP


@pytest.mark.parametrize("text", ["Please stop texting me", "STOP!", "stopped", "", "Y"])
def test_other_messages_are_not_keywords(text):
    assert keyword(text) is None


def test_hash_chain_changes_when_any_field_changes():
    first = entry_hash(GENESIS, {"kind": "opted_out", "at": "2026-11-26T10:00:00Z"})
    assert len(first) == 64
    assert first == entry_hash(GENESIS, {"at": "2026-11-26T10:00:00Z", "kind": "opted_out"})
    assert first != entry_hash(GENESIS, {"kind": "opted_out", "at": "2026-11-26T10:00:01Z"})
    assert entry_hash(first, {"kind": "x"}) != entry_hash(GENESIS, {"kind": "x"})


@pytest.mark.parametrize(
    ("newest", "express", "allowed"),
    [
        (None, False, False),
        (ConsentKind.IMPORTED, True, True),
        (ConsentKind.OPT_IN_CONFIRMED, True, True),
        (ConsentKind.OPTED_OUT, True, False),
        (ConsentKind.OPTED_BACK_IN, True, True),  # START after a STOP restores consent
        (ConsentKind.OPTED_BACK_IN, False, False),  # START alone never gave it
    ],
)
def test_marketing_needs_express_consent_no_stop_withdrew(newest, express, allowed):
    assert may_market(newest, express) is allowed
    assert opted_out(newest) is (newest == ConsentKind.OPTED_OUT)


@pytest.mark.parametrize(
    ("text", "yes"), [("Y", True), (" y ", True), ("Yes", True), ("yep", False)]
)
def test_y_and_yes_confirm_a_double_opt_in(text, yes):
    assert is_confirmation(text) is yes
