"""The dashboard in Debian's Chromium, driven by Playwright, against `smsvia serve --demo`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.integration.conftest import CallbackReceiver
from tests.processes import demo_credentials, demo_server

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)


@pytest.fixture
def page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield browser.new_page()
        finally:
            browser.close()


@pytest.fixture
def receiver():
    receiver = CallbackReceiver()
    yield receiver
    receiver.close()


def test_sign_in_send_and_watch_the_message_get_delivered(tmp_path, page, receiver):
    with demo_server(tmp_path) as (running, port):
        sid, token = demo_credentials(running)
        base = f"http://127.0.0.1:{port}"

        page.goto(base + "/")
        expect(page).to_have_url(re.compile(r"/login"))
        page.get_by_label("Email or Account SID").fill(sid)
        page.get_by_label("Password or Auth Token").fill("0" * 32)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("do not match")
        page.get_by_label("Password or Auth Token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(base + "/messages")
        expect(page.get_by_text("No messages yet")).to_be_visible()

        page.get_by_role("link", name="Send", exact=True).click()
        page.get_by_label("To").fill("+14155550100")
        page.get_by_label("Body").fill("Your order ships today — track it at shop.example/t/1042")
        # The price preview follows the typing (htmx) and says why the text is UCS-2.
        expect(page.locator("#quote")).to_contain_text("UCS-2")
        expect(page.locator("#quote")).to_contain_text("“—”")
        page.get_by_label("Status callback URL").fill(receiver.url + "/sms/status")
        page.get_by_role("button", name="Send", exact=True).click()

        expect(page).to_have_url(re.compile(r"/messages/SM[0-9a-f]{32}$"))
        message_sid = page.url.rsplit("/", 1)[1]
        live = page.locator("#live")
        # The demo SMSC's receipt comes a second later; the page polls until it is final.
        expect(live.locator("h2 .status")).to_have_text("delivered", timeout=20_000)
        expect(live.locator(".timeline")).to_contain_text("DLR DELIVRD")
        expect(live.locator("table.callbacks")).to_contain_text("delivered", timeout=20_000)
        expect(live.locator("table.callbacks tr.ok").first).to_contain_text("200")

        page.get_by_role("link", name="Messages", exact=True).click()
        row = page.locator("#message-rows tr", has_text=message_sid)
        expect(row).to_contain_text("delivered")
        expect(row).to_contain_text("+14155550100")

        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/login"))

    assert {c.params["MessageStatus"] for c in receiver.received} >= {"sent", "delivered"}
