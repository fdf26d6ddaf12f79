"""Malformed input tried as a new user (or a fuzzer) would: a clear 4xx, never a 500, on
both databases."""

from __future__ import annotations

import base64

import httpx
import pytest


@pytest.fixture
def api(server, backend):
    shop = backend.tenant()
    with httpx.Client(base_url=server, auth=(shop.sid, shop.token)) as client:
        client.shop = shop  # type: ignore[attr-defined]
        yield client


def messages(api) -> str:
    return f"/2010-04-01/Accounts/{api.shop.sid}/Messages"


@pytest.mark.parametrize(
    "query",
    [
        {"Page": "1000000000000000000000000000000"},
        {"Page": "-5"},
        {"PageSize": "-1"},
        {"Page": "x"},
        {"PageToken": "PA" + base64.urlsafe_b64encode(b"1" * 40).decode()},
        {"PageToken": "PA" + base64.urlsafe_b64encode(b"-3").decode()},
        {"To": "+1212\x005551000"},
        {"DateSent": "2026-13-45"},
    ],
)
def test_a_bad_listing_query_is_a_400(api, query):
    answer = api.get(f"{messages(api)}.json", params=query)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == 20001


@pytest.mark.parametrize(
    "path",
    [
        "/Messages/SM%00abc.json",
        "/Messages/SM%00abc/Media.json",
        "/Messages/MM0/Media/ME%00.json",
    ],
)
def test_a_nul_in_a_sid_is_a_400(api, path):
    answer = api.get(f"/2010-04-01/Accounts/{api.shop.sid}{path}")
    assert answer.status_code == 400, answer.text


def test_a_nul_in_a_native_sid_is_a_400(api):
    assert api.get("/v1/messages/SM%00x").status_code == 400


@pytest.mark.parametrize("field", ["To", "From", "StatusCallback", "Body", "MediaUrl"])
def test_a_nul_in_a_form_field_is_a_400(api, field):
    form = {"To": "+12125551000", "From": api.shop.sender, "Body": "hi", field: "a\x00b"}
    answer = api.post(f"{messages(api)}.json", data=form)
    assert answer.status_code == 400, answer.text


@pytest.mark.parametrize(
    "path, body",
    [
        ("/v1/contacts", {"phone": "+12125551000", "first_name": "a\x00b"}),
        ("/v1/contacts", {"phone": "+12125551000", "attributes": {"size\x00": "42"}}),
        ("/v1/segments", {"name": "vip\x00", "match": "all", "conditions": []}),
        ("/v1/orders", {"phone": "+12125551000", "order_id": "o\x001", "total": "1.00"}),
        ("/v1/messages", {"to": "+12125551000", "text": "hi", "status_callback": "http://a/\x00"}),
    ],
)
def test_a_nul_in_a_json_body_is_a_400(api, path, body):
    answer = api.post(path, json={**body, "from": api.shop.sender})
    assert answer.status_code == 400, answer.text
    assert "NUL" in answer.json()["message"]


def test_a_nul_in_any_form_is_a_400(api):
    answer = api.post(
        f"/2010-04-01/Accounts/{api.shop.sid}/Keys.json", data={"FriendlyName": "shop\x00"}
    )
    assert answer.status_code == 400, answer.text


def multipart(fields: dict[str, str]) -> dict[str, tuple[None, bytes]]:
    """Fields as httpx sends them in multipart/form-data, which Starlette's forms read too."""
    return {name: (None, value.encode()) for name, value in fields.items()}


@pytest.mark.parametrize("field", ["To", "Body", "StatusCallback"])
def test_a_nul_in_a_multipart_message_field_is_a_400(api, field):
    form = {"To": "+12125551000", "From": api.shop.sender, "Body": "hi", field: "a\x00b"}
    answer = api.post(f"{messages(api)}.json", files=multipart(form))
    assert answer.status_code == 400, answer.text
    assert "NUL" in answer.json()["message"]


def test_a_nul_in_any_multipart_form_is_a_400(api):
    answer = api.post(
        f"/2010-04-01/Accounts/{api.shop.sid}/Keys.json",
        files=multipart({"FriendlyName": "shop\x00"}),
    )
    assert answer.status_code == 400, answer.text


def test_a_multipart_form_without_nul_is_taken(api):
    form = {"To": "+12125551000", "From": api.shop.sender, "Body": "hi"}
    answer = api.post(f"{messages(api)}.json", files=multipart(form))
    assert answer.status_code == 201, answer.text
    named = api.post(
        f"/2010-04-01/Accounts/{api.shop.sid}/Keys.json", files=multipart({"FriendlyName": "shop"})
    )
    assert named.status_code == 201, named.text


def test_text_that_only_looks_like_a_nul_is_kept(api):
    made = api.post("/v1/contacts", json={"phone": "+12125551000", "first_name": "\\u0000"})
    assert made.status_code == 201, made.text
    assert made.json()["first_name"] == "\\u0000"


def test_an_unknown_sid_is_a_404(api):
    assert api.get(f"{messages(api)}/SM{'0' * 32}.json").status_code == 404
    assert api.get(f"{messages(api)}/SM{'0' * 32}/Media.json").status_code == 404
