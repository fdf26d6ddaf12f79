"""api/forms.py reads a URL-encoded body exactly as Starlette's own parser does."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from smsvia.api.forms import MAX_FIELDS, URLENCODED, form


def request(body: bytes, content_type: bytes = URLENCODED.encode()) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [(b"content-type", content_type)],
    }
    chunks = [body]

    async def receive():
        return {"type": "http.request", "body": chunks.pop() if chunks else b"", "more_body": False}

    return Request(scope, receive)


def both(body: bytes, content_type: bytes = URLENCODED.encode()):
    async def read():
        ours = await form(request(body, content_type))
        theirs = await request(body, content_type).form()
        return ours.multi_items(), theirs.multi_items()

    return asyncio.run(read())


@settings(max_examples=300)
@given(st.lists(st.tuples(st.text(), st.text()), max_size=8))
def test_encoded_fields_read_as_starlette_reads_them(fields):
    ours, theirs = both(urlencode(fields).encode())
    assert ours == theirs


@settings(max_examples=300)
@given(st.binary(max_size=80) | st.from_regex(rb"[a-z=&+%0-9A-F;\xe9\x00]{0,40}", fullmatch=True))
def test_any_body_reads_as_starlette_reads_it(body):
    ours, theirs = both(body)
    assert ours == theirs


def test_a_twilio_send_and_its_charset_parameter():
    body = b"To=%2B15551234567&From=%2B15005550006&Body=Caf%C3%A9+50%25+off&MediaUrl=a&MediaUrl=b"
    ours, theirs = both(body, URLENCODED.encode() + b"; charset=UTF-8")
    assert ours == theirs
    assert ("Body", "Café 50% off") in ours and ours[-2:] == [("MediaUrl", "a"), ("MediaUrl", "b")]


def test_other_bodies_and_too_many_fields_are_left_to_starlette():
    multipart = b'--x\r\nContent-Disposition: form-data; name="To"\r\n\r\n+15551234567\r\n--x--\r\n'
    assert both(multipart, b"multipart/form-data; boundary=x")[0] == [("To", "+15551234567")]
    # 1,001 separators but 1,000 fields: parse_qsl would refuse it, Starlette takes it.
    crowded = b"&".join([b"a=1"] * MAX_FIELDS) + b"&"
    ours, theirs = both(crowded)
    assert ours == theirs and len(ours) == MAX_FIELDS
