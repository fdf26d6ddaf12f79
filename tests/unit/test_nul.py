"""Finding a NUL in a form or JSON body, as api/nul.py refuses it."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import httpx
from hypothesis import given
from hypothesis import strategies as st

from smsvia.api.nul import _body_has_nul, _multipart_has_nul

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


def multipart_has_nul(fields: dict, files: dict) -> bool:
    """Encoded by httpx as a client would send them, then looked at as the middleware does
    (a file makes httpx send multipart, even for fields alone)."""
    files = files or {"Note": ("note.txt", b"x", "text/plain")}
    request = httpx.Request("POST", "http://shop.test/", data=fields, files=files)
    scope = {
        "type": "http",
        "headers": [(b"content-type", request.headers["content-type"].encode())],
    }
    return asyncio.run(_multipart_has_nul(scope, request.read()))


def test_a_multipart_form_has_a_nul_when_a_text_field_does_never_for_a_file():
    picture = {"Media": ("cat.png", b"\x89PNG\x00\x00\x00\rIHDR", "image/png")}
    assert not multipart_has_nul({"Body": "hi"}, picture)
    assert multipart_has_nul({"Body": "h\x00i"}, picture)
    assert not multipart_has_nul({"Body": "\\u0000"}, {})


def test_a_nul_in_a_multipart_field_name_is_found():
    body = b'--b\r\nContent-Disposition: form-data; name="Bo\x00dy"\r\n\r\nhi\r\n--b--\r\n'
    scope = {"type": "http", "headers": [(b"content-type", b"multipart/form-data; boundary=b")]}
    assert asyncio.run(_multipart_has_nul(scope, body))
    assert not asyncio.run(_multipart_has_nul(scope, body.replace(b"\x00", b"")))


def test_a_multipart_body_starlette_cannot_read_is_left_to_its_reader():
    scope = {"type": "http", "headers": [(b"content-type", b"multipart/form-data")]}  # no boundary
    assert not asyncio.run(_multipart_has_nul(scope, b"--x\r\nBody\x00"))
