"""Tracking in the demo, in Debian's Chromium, as the README walks it: a campaign with a
link goes out, the customer taps the link on the demo phone and buys at the shop, and the
campaign's report shows the click, the order and the revenue, by hour in a chart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.dashboard import CHROMIUM, SHOTS, import_csv, sign_in
from tests.processes import daytime_zone, demo_credentials, demo_server

CUSTOMER = "+12125551000"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)


def import_customer(cwd: Path, account: str) -> None:
    # A customer awake now (quiet hours hold marketing texts at night).
    import_csv(
        cwd,
        account,
        [
            "phone,first_name,tags,time_zone,consent,consent_date",
            f"{CUSTOMER},Ada,boots,{daytime_zone()},yes,2026-10-01",
        ],
    )


def test_a_tapped_link_and_an_order_show_on_the_campaign_report(tmp_path):
    with demo_server(tmp_path) as (running, port), sync_playwright() as playwright:
        sid, token = demo_credentials(running)
        import_customer(tmp_path, sid)
        base = f"http://127.0.0.1:{port}"
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        try:
            sign_in(page, base, sid, token)

            page.get_by_role("link", name="Segments", exact=True).click()
            page.get_by_label("Name").fill("Boot buyers")
            page.get_by_label("Field 1").select_option("tags")
            page.get_by_label("Op 1").select_option("contains")
            page.get_by_label("Value 1").fill("boots")
            expect(page.locator("#segment-count [data-count]")).to_have_text("1")
            page.get_by_role("button", name="Save segment").click()

            page.get_by_role("link", name="Campaigns", exact=True).click()
            page.get_by_role("link", name="New campaign").click()
            page.get_by_label("Name", exact=True).fill("Boots are back")
            page.get_by_label("Segment").select_option(label="Boot buyers (1)")
            page.get_by_label("Channel").select_option("sms")
            text = page.get_by_role("textbox", name=re.compile("^Text"))
            text.fill(f"Hi {{{{ first_name }}}}, boots are back: {base}/demo/shop")
            # The preview already shows the short link the customer will get.
            expect(page.locator("#live-preview")).to_contain_text(f"{base}/l/")
            page.get_by_role("button", name="Save draft").click()
            page.get_by_role("button", name="Launch").click()
            expect(page.locator('#campaign-live [data-figure="delivered"]')).to_have_text(
                "1", timeout=30_000
            )
            campaign_url = page.url

            phone = context.new_page()
            phone.goto(f"{base}/demo/phone?number=%2B{CUSTOMER[1:]}")
            link = phone.locator("#received a").first
            expect(link).to_have_attribute("href", re.compile(rf"^{re.escape(base)}/l/\w{{8}}$"))
            with context.expect_page() as opened:
                link.click()
            shop = opened.value
            shop.wait_for_load_state()
            assert shop.url.startswith(f"{base}/demo/shop?utm_source=smsvia&utm_medium=sms")
            expect(shop.locator("h1")).to_have_text("Winter boots")
            phone.get_by_label(re.compile("Buy at the shop")).fill("59.90")
            phone.get_by_role("button", name="Place the order").click()
            expect(phone.get_by_role("status")).to_contain_text("credited to campaign CM")

            page.goto(campaign_url)
            report = page.locator("#campaign-report")
            expect(report.locator('[data-result="clicks"]')).to_have_text("1")
            expect(report.locator('[data-result="orders"]')).to_have_text("1")
            expect(report.locator('[data-result="revenue"]')).to_have_text("59.90")
            expect(report.locator("svg.chart rect.bar-orders")).to_have_count(1)
            expect(report.locator("table.report")).to_contain_text("Sent as SMS via server")
            page.screenshot(path=str(SHOTS / "campaign_report.png"), full_page=True)

            page.get_by_role("link", name="Insights", exact=True).click()
            expect(page.locator("h1")).to_have_text("What to change next")
        finally:
            browser.close()
