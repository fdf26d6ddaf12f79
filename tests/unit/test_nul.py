"""Finding a NUL in a form or JSON body, as api/nul.py refuses it."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from smsvia.api.nul import _body_has_nul

FORM, JSON = "application/x-www-form-urlencoded", "application/json"

texts = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\x00\\u0"), max_size=12)
documents = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


def strings_of(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings_of(v)]]
    if isinstance(value, list):
        return [s for item in value for s in strings_of(item)]
    return []


@given(documents, st.booleans())
def test_a_json_body_has_a_nul_exactly_when_one_of_its_strings_does(document, ascii_only):
    body = json.dumps(document, ensure_ascii=ascii_only).encode()
    expected = any("\x00" in s for s in strings_of(document))
    assert _body_has_nul(JSON, body) == expected


@given(st.lists(st.tuples(texts, texts), max_size=5))
def test_a_form_body_has_a_nul_exactly_when_a_field_does(fields):
    body = urlencode(fields).encode()
    expected = any("\x00" in name + value for name, value in fields)
    assert _body_has_nul(FORM, body) == expected


def test_a_backslash_before_u0000_is_text_not_a_nul():
    assert not _body_has_nul(JSON, json.dumps({"name": "\\u0000"}).encode())
    assert _body_has_nul(JSON, b'{"name": "a\\u0000"}')
    assert not _body_has_nul(JSON, b'{"name": "a\\u0000"')  # not JSON: its reader says so
