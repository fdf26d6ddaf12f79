"""A campaign built and watched in the dashboard, in Debian's Chromium, against
`smsvia serve --demo`: a segment with its live count, the builder's live preview, the exact
preview, the launch, the live figures, and a contact's page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.dashboard import CHROMIUM, SHOTS, import_csv, sign_in
from tests.processes import daytime_zone, demo_credentials, demo_server

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)


def import_contacts(cwd: Path, account: str) -> None:
    zone = daytime_zone()
    rows = ["phone,first_name,tags,time_zone,consent,consent_date,size"]
    rows += [f"+1212555{1000 + n},Ana{n},vip,{zone},yes,2026-10-01,M" for n in range(8)]
    rows += [f"+12125552000,Zoë,vip,{zone},yes,2026-10-01,S"]
    rows += [f"+12125552001,Bo,vip,{zone},,,L"]  # no consent: excluded
    rows += [f"+12125552002,Cy,boots,{zone},yes,2026-10-01,M"]  # not in the segment
    import_csv(cwd, account, rows)


def test_build_preview_launch_and_watch_a_campaign(tmp_path):
    with demo_server(tmp_path) as (running, port), sync_playwright() as playwright:
        sid, token = demo_credentials(running)
        import_contacts(tmp_path, sid)
        base = f"http://127.0.0.1:{port}"
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            sign_in(page, base, sid, token)

            page.get_by_role("link", name="Segments", exact=True).click()
            page.get_by_label("Name").fill("VIPs")
            page.get_by_label("Field 1").select_option("tags")
            page.get_by_label("Op 1").select_option("contains")
            page.get_by_label("Value 1").fill("vip")
            expect(page.locator("#segment-count [data-count]")).to_have_text("10")
            page.get_by_label("Field 2").select_option("first_name")
            page.get_by_label("Op 2").select_option("contains")
            expect(page.locator("#segment-count")).to_contain_text("sealed")
            page.get_by_label("Field 2").select_option("—")
            expect(page.locator("#segment-count [data-count]")).to_have_text("10")
            page.get_by_role("button", name="Save segment").click()
            expect(page.locator("table.segments")).to_contain_text("VIPs")

            page.get_by_role("link", name="Campaigns", exact=True).click()
            page.get_by_role("link", name="New campaign").click()
            page.get_by_label("Name", exact=True).fill("Winter drop")
            page.get_by_label("Channel").select_option("sms")
            text = page.get_by_role("textbox", name=re.compile("^Text"))
            text.fill('Hi {{ first_name | default: "there" }}, size {{ attributes.size }} is back!')
            live = page.locator("#live-preview")
            expect(live).to_contain_text("Hi Ana0, size M is back!")
            expect(live).to_contain_text("10 contacts in the segment")
            text.fill("Hi {% if %}")
            expect(live.get_by_role("alert")).to_contain_text("does not parse")
            text.fill('Hi {{ first_name | default: "there" }}, size {{ attributes.size }} is back!')
            expect(live).to_contain_text("Hi Ana0")
            page.screenshot(path=str(SHOTS / "campaign_builder.png"), full_page=True)
            page.get_by_role("button", name="Save draft").click()
            expect(page).to_have_url(re.compile(r"/campaigns/CM[0-9a-f]{32}$"))

            page.get_by_role("button", name="Preview").click()
            preview = page.locator("#preview")
            expect(preview).to_contain_text("9 of 10 recipients")
            expect(preview).to_contain_text("1 no consent")
            expect(preview).to_contain_text("UCS-2")  # Zoë
            page.get_by_role("button", name="Launch").click()
            figures = page.locator("#campaign-live")
            expect(figures.locator('[data-figure="delivered"]')).to_have_text("9", timeout=30_000)
            expect(figures.locator('[data-figure="excluded"]')).to_have_text("1")
            expect(page.locator("h1 .status")).to_have_text("sending")
            page.screenshot(path=str(SHOTS / "campaign_page.png"), full_page=True)

            page.get_by_role("link", name="Campaigns", exact=True).click()
            expect(page.locator("table.campaigns")).to_contain_text("Winter drop")

            page.get_by_role("link", name="Contacts", exact=True).click()
            page.get_by_label("Phone").fill("+12125552000")
            page.get_by_role("button", name="Search").click()
            page.get_by_role("link", name="+12125552000").click()
            expect(page.locator("h1")).to_contain_text("Zoë")
            expect(page.locator("main")).to_contain_text("imported")
            expect(page.locator("table.messages")).to_contain_text("delivered")
            page.screenshot(path=str(SHOTS / "contact_page.png"), full_page=True)
        finally:
            browser.close()
