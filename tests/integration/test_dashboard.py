"""The dashboard over real HTTP: sign-in, scoping by account, CSRF, the send form."""

from __future__ import annotations

import re

import httpx
import pytest

TO = "+14155550100"


def browser(server: str) -> httpx.Client:
    return httpx.Client(base_url=server, follow_redirects=False, timeout=10)


def signed_in(server: str, tenant) -> httpx.Client:
    client = browser(server)
    answer = client.post("/login", data={"login": tenant.sid, "password": tenant.token})
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(client: httpx.Client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/send").text).group(1)


def send_through_api(server: str, tenant, body: str = "Your order has shipped") -> str:
    answer = httpx.post(
        f"{server}/2010-04-01/Accounts/{tenant.sid}/Messages.json",
        auth=(tenant.sid, tenant.token),
        data={"To": TO, "From": tenant.sender, "Body": body},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["sid"]


@pytest.mark.parametrize("path", ["/", "/messages", "/send", "/messages/SM0/live"])
def test_pages_send_a_signed_out_visitor_to_sign_in(server, path):
    answer = browser(server).get(path)
    assert answer.status_code == 303
    if path != "/":
        assert answer.headers["location"].startswith("/login?next=")


def test_htmx_poll_when_signed_out_redirects_the_whole_page(server):
    answer = browser(server).get("/messages/rows", headers={"HX-Request": "true"})
    assert answer.status_code == 401
    assert answer.headers["HX-Redirect"].startswith("/login")


def test_wrong_token_is_refused_and_sets_no_cookie(server, backend):
    shop = backend.tenant()
    client = browser(server)
    answer = client.post("/login", data={"login": shop.sid, "password": "0" * 32})
    assert answer.status_code == 401
    assert "do not match" in answer.text
    assert "smsvia_session" not in client.cookies
    assert client.get("/messages").status_code == 303


def test_sign_in_never_redirects_off_the_site(server, backend):
    shop = backend.tenant()
    answer = browser(server).post(
        "/login",
        data={"login": shop.sid, "password": shop.token, "next": "//evil.example/x"},
    )
    assert answer.headers["location"] == "/messages"


def test_a_tampered_cookie_is_a_signed_out_visitor(server, backend):
    client = signed_in(server, backend.tenant())
    cookie = client.cookies["smsvia_session"]
    client.cookies.set("smsvia_session", cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB"))
    assert client.get("/messages").status_code == 303


def test_list_shows_the_accounts_messages_and_their_status(server, backend):
    shop = backend.tenant()
    sid = send_through_api(server, shop)
    page = signed_in(server, shop).get("/messages")
    assert page.status_code == 200
    assert sid in page.text and TO in page.text
    assert re.search(r'<span class="count">1</span> queued', page.text)


def test_one_account_never_sees_anothers_messages(server, backend):
    shop, other = backend.tenant(), backend.tenant("+15005550007")
    sid = send_through_api(server, shop)
    client = signed_in(server, other)
    assert sid not in client.get("/messages").text
    assert sid not in client.get("/messages/rows").text
    assert client.get(f"/messages/{sid}").status_code == 404
    assert TO not in client.get(f"/messages/{sid}").text


def test_status_filter_narrows_the_list(server, backend):
    shop = backend.tenant()
    sid = send_through_api(server, shop)
    client = signed_in(server, shop)
    assert sid in client.get("/messages/rows", params={"status": "queued"}).text
    assert sid not in client.get("/messages/rows", params={"status": "delivered"}).text
    assert "not a message status" in client.get("/messages/rows", params={"status": "x"}).text


def test_message_page_shows_body_and_timeline(server, backend):
    shop = backend.tenant()
    sid = send_through_api(server, shop, "Ihr Paket ist unterwegs")
    page = signed_in(server, shop).get(f"/messages/{sid}")
    assert "Ihr Paket ist unterwegs" in page.text
    assert re.search(r"<strong>queued</strong>\s*<span class=\"detail\">GSM-7", page.text)
    # Not final yet, so the live part keeps polling.
    assert f'hx-get="/messages/{sid}/live"' in page.text


def test_send_form_without_its_csrf_token_is_refused(server, backend):
    shop = backend.tenant()
    client = signed_in(server, shop)
    answer = client.post("/send", data={"to": TO, "sender": shop.sender, "body": "Hi"})
    assert answer.status_code == 403
    assert "No messages match" in client.get("/messages/rows").text


def test_send_form_queues_a_message_and_shows_it(server, backend):
    shop = backend.tenant()
    client = signed_in(server, shop)
    answer = client.post(
        "/send",
        data={
            "to": TO,
            "sender": shop.sender,
            "body": "Hi from the dashboard",
            "csrf": csrf_of(client),
        },
    )
    assert answer.status_code == 303
    sid = answer.headers["location"].rsplit("/", 1)[1]
    assert sid.startswith("SM")
    assert "Hi from the dashboard" in client.get(f"/messages/{sid}").text


def test_send_form_shows_the_domain_error_and_keeps_what_was_typed(server, backend):
    shop = backend.tenant()
    client = signed_in(server, shop)
    answer = client.post(
        "/send",
        data={"to": "+1415", "sender": shop.sender, "body": "Keep me", "csrf": csrf_of(client)},
    )
    assert answer.status_code == 400
    assert "not a valid phone number" in answer.text
    assert "Keep me" in answer.text


def test_quote_preview_explains_the_encoding_and_price(server, backend):
    client = signed_in(server, backend.tenant())
    answer = client.post("/send/quote", data={"to": TO, "body": "Ships today — track it"})
    assert "UCS-2" in answer.text and "1 segment" in answer.text
    assert "“—”" in answer.text
    assert "0.0150 USD" in answer.text


def test_sign_out_needs_the_csrf_token(server, backend):
    shop = backend.tenant()
    client = signed_in(server, shop)
    client.post("/logout", data={"csrf": "forged"})
    assert client.get("/messages").status_code == 200
    client.post("/logout", data={"csrf": csrf_of(client)})
    assert client.get("/messages").status_code == 303
