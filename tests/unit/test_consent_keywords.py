"""Keywords and the consent ledger's hash chain."""

from __future__ import annotations

import pytest

from smsvia.domain.consent import GENESIS, Keyword, entry_hash, keyword


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
