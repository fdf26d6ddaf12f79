"""Issue 6's "done when", as a new user would do it against `smsvia serve --demo`: import a
CSV, sign up through the hosted form embedded in another page (Debian's Chromium, driven by
Playwright), confirm with Y and then text STOP from the demo phone, see the next marketing
send refused with 21610, and export the number's consent history."""

from __future__ import annotations

import contextlib
import functools
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.processes import SMSVIA, clean_environment, demo_credentials, demo_server

CHROMIUM = Path("/usr/bin/chromium")
HANDSET = "+14155550123"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)


def smsvia(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [SMSVIA, *args],
        cwd=cwd,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done


@contextlib.contextmanager
def shop_site(root: Path) -> Iterator[str]:
    """A shop's own web site, another origin (localhost, not 127.0.0.1) serving `root`."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_import_opt_in_confirm_stop_refuse_and_export(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    with (
        demo_server(tmp_path) as (running, port),
        shop_site(site) as shop_url,
        sync_playwright() as playwright,
    ):
        sid, token = demo_credentials(running)
        base = f"http://127.0.0.1:{port}"
        form_url = re.search(r"Opt-in form\s+(\S+)", running.out.read_text()).group(1)
        api = httpx.Client(base_url=base, auth=(sid, token), timeout=10)

        # 1. Contacts from a CSV, one with evidence of consent collected at checkout.
        (tmp_path / "customers.csv").write_text(
            "phone,first_name,consent,consent_date,consent_source\n"
            "+14155550188,Grace,yes,2026-11-01,checkout box\n"
            "not a number,Bad,,,\n"
        )
        imported = smsvia(tmp_path, "contacts", "import", "customers.csv", "--account", sid)
        assert "1 consents recorded" in " ".join(imported.stdout.split())

        # 2. The hosted form, embedded in a shop's page on another origin.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page()
        (site / "index.html").write_text(
            f'<h1>Acme shoes</h1><iframe src="{form_url}" width="500" height="700"></iframe>'
        )
        page.goto(shop_url + "/index.html")
        form = page.frame_locator("iframe")
        expect(form.locator("#disclosure")).to_contain_text("Consent is not a condition")
        form.get_by_label("Mobile number").fill("(415) 555-0123")
        form.get_by_role("button", name="Sign up").click()
        expect(form.get_by_role("alert")).to_contain_text("Tick the box")
        form.get_by_role("checkbox").check()
        form.get_by_role("button", name="Sign up").click()
        expect(form.get_by_role("status")).to_contain_text("Reply Y")

        # 3. The demo phone gets "reply Y", answers Y, gets the welcome; later texts STOP.
        page.goto(f"{base}/demo/phone?number=%2B14155550123")
        received = page.locator("#received")
        expect(received).to_contain_text("reply Y to confirm", timeout=20_000)
        marketing = {"to": HANDSET, "from": "+15005550006", "text": "Boots -20%"}
        refused_before = api.post("/v1/messages", json={**marketing, "category": "marketing"})
        page.get_by_label("Message").fill("Y")
        page.get_by_role("button", name="Send from this phone").click()
        expect(received).to_contain_text("you're subscribed", timeout=20_000)
        accepted = api.post("/v1/messages", json={**marketing, "category": "marketing"})
        page.get_by_label("Message").fill("STOP")
        page.get_by_role("button", name="Send from this phone").click()
        expect(received).to_contain_text("unsubscribed", timeout=20_000)
        browser.close()

        # 4. The next marketing send is refused; so is an order update.
        refused = api.post("/v1/messages", json={**marketing, "category": "marketing"})
        imported_ok = api.post(
            "/v1/messages", json={**marketing, "to": "+14155550188", "category": "marketing"}
        )

        # 5. The history, as a regulator would get it.
        history = json.loads(
            smsvia(tmp_path, "consent", "export", "--account", sid, "--phone", HANDSET).stdout
        )

    assert refused_before.status_code == 400 and refused_before.json()["code"] == 100051
    assert accepted.status_code == 201, accepted.text
    assert refused.status_code == 400 and refused.json()["code"] == 21610
    assert imported_ok.status_code == 201, imported_ok.text
    assert history["chain_intact"] is True
    kinds = [entry["kind"] for entry in history["entries"]]
    assert kinds == ["opt_in_requested", "opt_in_confirmed", "opted_out"]
    requested = history["entries"][0]
    assert "Chrome" in requested["evidence"]["user_agent"]
    assert requested["evidence"]["ip"] == "127.0.0.1"
    assert requested["disclosure"].startswith("I agree to receive recurring marketing")
