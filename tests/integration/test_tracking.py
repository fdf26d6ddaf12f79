"""Tracking on both databases, over real HTTP: a campaign's links become per-recipient short
links, a click redirects with UTM parameters and moves the contact's last click, a
link-preview fetcher gets the destination's Open Graph tags (fetched once) and is not a
click, and orders (the API and the Shopify webhook) are attributed to the click, else to the
delivered text, once each."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import http.server
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, text, update

from smsvia.api.app import create_app
from smsvia.domain.consent import ConsentKind
from smsvia.services import campaigns
from smsvia.services.accounts import AccountSettings, update_settings
from smsvia.store.marketing_models import Contact
from smsvia.store.models import Message
from smsvia.store.tracking_models import Click, LinkPreview, ShortLink
from tests.integration.conftest import ServerThread
from tests.integration.test_campaigns import (
    _ledger,
    clock_at,
    messages_of,
    run_fanout,
    shop_contacts,
    vip_segment,
)
from tests.integration.test_campaigns import fanout as campaign_fanout
from tests.integration.test_cli_connectors import smsvia
from tests.integration.test_dashboard import browser, signed_in
from tests.integration.test_twilio_api import twilio_client

CODE = re.compile(r"http://127\.0\.0\.1:8080/l/([A-Za-z0-9]{8})")


class ShopSite:
    """The shop's product page, with Open Graph tags; counts how often it is fetched."""

    PAGE = (
        "<html><head><title>Plain title</title>"
        '<meta property="og:title" content="Winter boots">'
        '<meta property="og:description" content="Warm &amp; dry">'
        '<meta property="og:image" content="/boots.jpg">'
        "</head><body>Boots</body></html>"
    )

    def __init__(self) -> None:
        self.fetches = 0
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                site.fetches += 1
                body = site.PAGE.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def shop_site() -> Iterator[ShopSite]:
    site = ShopSite()
    yield site
    site.close()


@pytest.fixture
def app_url(settings, backend) -> Iterator[str]:
    running = ServerThread(create_app(settings.model_copy(update={"allow_private_urls": True})))
    yield running.url
    running.stop()


def launched_campaign(backend, tenant, link: str, contacts: int = 3) -> str:
    async def make() -> str:
        await shop_contacts(backend, tenant, contacts, opted_in=contacts)
        created = await campaigns.create_campaign(
            backend.store,
            tenant.principal,
            {
                "name": "Boots",
                "from": tenant.sender,
                "segment": await vip_segment(backend, tenant),
                "content": {"text": f"Hi {{{{ first_name }}}}, new boots: {link}. See you!"},
            },
        )
        await campaigns.launch(backend.store, tenant.principal, created["sid"])
        await run_fanout(
            campaign_fanout(backend, clock_at(datetime.now(UTC))), created["sid"], backend
        )
        return created["sid"]

    return backend.run(make())


def bodies(backend, campaign_sid: str) -> list[str]:
    messages = backend.run(messages_of(backend, campaign_sid))
    return [backend.store.cipher.open(m.body, "message.body") for m in messages]


def rows(backend, model, *where):
    async def read():
        async with backend.store.db.sessions() as session:
            return list(await session.scalars(select(model).where(*where)))

    return backend.run(read())


def test_each_recipient_gets_own_short_link_and_a_click_redirects_with_utm(
    backend, app_url, shop_site
):
    shop = backend.tenant()
    destination = f"{shop_site.url}/boots?color=black"
    sid = launched_campaign(backend, shop, destination)
    texts = bodies(backend, sid)
    codes = [CODE.search(text).group(1) for text in texts]
    assert len(texts) == 3 and len(set(codes)) == 3
    assert all(destination not in text and text.endswith(". See you!") for text in texts)
    links = rows(backend, ShortLink)
    assert sorted(link.code for link in links) == sorted(codes)
    assert all(backend.store.cipher.open(link.url, "link.url") == destination for link in links)

    # A person taps the first link.
    tapped = httpx.get(f"{app_url}/l/{codes[0]}", headers={"User-Agent": "Mozilla/5.0 (iPhone)"})
    assert tapped.status_code == 302
    target = urlsplit(tapped.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{shop_site.url}/boots"
    assert parse_qs(target.query) == {
        "color": ["black"],
        "utm_source": ["smsvia"],
        "utm_medium": ["sms"],
        "utm_campaign": ["Boots"],
    }
    clicks = rows(backend, Click)
    assert [(c.kind, c.campaign_sid) for c in clicks] == [("click", sid)]
    message = rows(backend, Message, Message.id == clicks[0].message_id)[0]
    tapped_contact = rows(backend, Contact, Contact.id == message.contact_id)[0]
    assert tapped_contact.last_clicked_at is not None
    others = rows(backend, Contact, Contact.id != message.contact_id)
    assert all(c.last_clicked_at is None for c in others)

    assert httpx.get(f"{app_url}/l/AAAAAAAA").status_code == 404
    assert httpx.get(f"{app_url}/l/not-a-code").status_code == 404


def test_preview_fetchers_get_open_graph_tags_fetched_once_and_are_not_clicks(
    backend, app_url, shop_site
):
    shop = backend.tenant()
    sid = launched_campaign(backend, shop, f"{shop_site.url}/boots", contacts=2)
    code = CODE.search(bodies(backend, sid)[0]).group(1)
    for agent in (
        "facebookexternalhit/1.1",
        "WhatsApp/2.23",
        "Mozilla/5.0 (compatible; Twitterbot)",
    ):
        page = httpx.get(f"{app_url}/l/{code}", headers={"User-Agent": agent})
        assert page.status_code == 200, agent
        assert '<meta property="og:title" content="Winter boots">' in page.text
        assert '<meta property="og:description" content="Warm &amp; dry">' in page.text
        assert f'<meta property="og:image" content="{shop_site.url}/boots.jpg">' in page.text
    assert httpx.head(f"{app_url}/l/{code}").status_code == 200
    assert shop_site.fetches == 1
    assert [c.kind for c in rows(backend, Click)] == ["preview"] * 4
    assert len(rows(backend, LinkPreview)) == 1
    assert all(c.last_clicked_at is None for c in rows(backend, Contact))


def test_a_refused_destination_still_gets_a_preview_page(backend, settings, shop_site):
    """Without SMSVIA_ALLOW_PRIVATE_URLS the guard refuses the loopback shop: the fetcher
    gets a page naming the link, and nothing is fetched."""
    shop = backend.tenant()
    sid = launched_campaign(backend, shop, f"{shop_site.url}/boots", contacts=1)
    code = CODE.search(bodies(backend, sid)[0]).group(1)
    running = ServerThread(create_app(settings.model_copy(update={"allow_private_urls": False})))
    try:
        page = httpx.get(f"{running.url}/l/{code}", headers={"User-Agent": "Slackbot 1.0"})
    finally:
        running.stop()
    assert page.status_code == 200 and "og:title" in page.text
    assert shop_site.fetches == 0
    assert "non-public" in rows(backend, LinkPreview)[0].error


def test_orders_are_attributed_to_the_click_else_the_delivered_text_once(
    backend, app_url, shop_site
):
    shop = backend.tenant()
    sid = launched_campaign(backend, shop, f"{shop_site.url}/boots", contacts=3)
    messages = backend.run(messages_of(backend, sid))
    clicked, delivered, untouched = messages
    code = rows(backend, ShortLink, ShortLink.message_id == clicked.id)[0].code
    assert httpx.get(f"{app_url}/l/{code}").status_code == 302

    async def deliver(message_id: int) -> None:
        async with backend.store.db.transaction() as session:
            await session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(status="delivered", date_updated=datetime.now(UTC))
            )

    backend.run(deliver(delivered.id))
    phone = {m.id: backend.store.cipher.open(m.recipient, "message.to") for m in messages}
    auth = (shop.sid, shop.token)

    def order(order_id: str, to: str, total: str, **extra):
        return httpx.post(
            f"{app_url}/v1/orders",
            auth=auth,
            json={"order_id": order_id, "phone": to, "total": total, "currency": "usd", **extra},
        )

    first = order("1001", phone[clicked.id], "59.90")
    assert first.status_code == 201, first.text
    assert first.json()["attributed_to"] == {
        "message_sid": clicked.sid,
        "campaign_sid": sid,
        "by": "click",
    }
    again = order("1001", phone[clicked.id], "59.90")
    assert again.status_code == 200 and again.json()["sid"] == first.json()["sid"]
    by_delivery = order("1002", phone[delivered.id], "20")
    assert by_delivery.json()["attributed_to"]["by"] == "delivery"
    assert order("1003", phone[untouched.id], "5").json()["attributed_to"] is None
    # An order from before the click is not the click's.
    old = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert order("1004", phone[clicked.id], "1", created_at=old).json()["attributed_to"] is None

    buyer = rows(backend, Contact, Contact.id == clicked.contact_id)[0]
    assert buyer.orders_count == 2 and buyer.total_spent == Decimal("60.90")
    assert "+1" not in json.dumps(first.json())  # no number in the resource

    listed = httpx.get(f"{app_url}/v1/orders", auth=auth).json()["orders"]
    assert [o["order_id"] for o in listed] == ["1004", "1003", "1002", "1001"]
    for bad, field in (
        ({"phone": "+14155550100", "total": "1"}, "order_id"),
        ({"order_id": "x", "total": "1"}, "phone"),
        ({"order_id": "x", "phone": "+14155550100", "total": "-3"}, "total"),
        ({"order_id": "x", "phone": "+14155550100", "total": "1", "currency": "dollars"}, None),
        ({"order_id": "x", "phone": "+14155550100", "total": "1", "created_at": "soon"}, None),
    ):
        refused = httpx.post(f"{app_url}/v1/orders", auth=auth, json=bad)
        assert refused.status_code == 400, bad
        assert field is None or field in refused.json()["message"]
    assert httpx.post(f"{app_url}/v1/orders", auth=auth, content=b"{not json").status_code in (
        400,
        422,
    )


def test_shopify_orders_webhook_checks_the_signature(backend, settings, app_url):
    shop = backend.tenant()
    url = f"{app_url}/webhooks/shopify/{shop.sid}/orders"
    body = json.dumps(
        {
            "id": 820982911946154508,
            "total_price": "199.00",
            "currency": "USD",
            "created_at": "2026-11-30T10:00:00-05:00",
            "customer": {"phone": "+14155550100", "email": "ada@example.com"},
        }
    ).encode()

    def signed(secret: str) -> str:
        return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()

    headers = {"X-Shopify-Hmac-Sha256": signed("shpss_secret"), "Content-Type": "application/json"}
    assert httpx.post(url, content=body, headers=headers).status_code == 401  # no secret set
    answer = smsvia(settings, "accounts", "update", shop.sid, "--shopify-secret", "shpss_secret")
    assert answer.returncode == 0, answer.stderr
    assert "shopify secret = (set)" in answer.stdout and "shpss_secret" not in answer.stdout
    accepted = httpx.post(url, content=body, headers=headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["order_id"] == "820982911946154508"
    assert accepted.json()["source"] == "shopify" and accepted.json()["total"] == "199.00"
    assert httpx.post(url, content=body, headers=headers).json()["sid"] == accepted.json()["sid"]
    forged = {**headers, "X-Shopify-Hmac-Sha256": signed("guess")}
    assert httpx.post(url, content=body, headers=forged).status_code == 401
    unsigned = {"Content-Type": "application/json"}
    assert httpx.post(url, content=body, headers=unsigned).status_code == 401
    garbage = b"not json"
    broken = {
        "X-Shopify-Hmac-Sha256": base64.b64encode(
            hmac.new(b"shpss_secret", garbage, hashlib.sha256).digest()
        ).decode()
    }
    assert httpx.post(url, content=garbage, headers=broken).status_code == 400
    backend.run(update_settings(backend.store, shop.sid, AccountSettings(shopify_secret="")))
    assert httpx.post(url, content=body, headers=headers).status_code == 401  # removed


def test_twilio_api_shortens_urls_when_asked(backend, app_url):
    shop = backend.tenant()
    client = twilio_client(app_url, shop.sid, shop.token)
    long_url = "https://shop.example/orders/1042/track?token=" + "x" * 120
    plain = client.messages.create(to="+14155550100", from_=shop.sender, body=f"Track: {long_url}")
    assert long_url in plain.body and plain.num_segments == "2"
    short = client.messages.create(
        to="+14155550100", from_=shop.sender, body=f"Track: {long_url}", shorten_urls=True
    )
    code = re.fullmatch(r"Track: \S+/l/([A-Za-z0-9]{8})", short.body).group(1)
    assert short.num_segments == "1"
    assert client.messages(short.sid).fetch().body == short.body
    found = httpx.get(f"{app_url}/l/{code}")
    assert found.status_code == 302 and found.headers["location"].startswith(long_url + "&utm_")
    assert "utm_campaign" not in found.headers["location"]


def set_messages(backend, ids, **values) -> None:
    async def change():
        async with backend.store.db.transaction() as session:
            await session.execute(update(Message).where(Message.id.in_(ids)).values(**values))

    backend.run(change())


def test_the_report_counts_by_variant_and_channel_and_by_hour(backend, app_url, shop_site):
    shop = backend.tenant()
    sid = launched_campaign(backend, shop, f"{shop_site.url}/boots", contacts=4)
    first, second, third, fourth = backend.run(messages_of(backend, sid))
    now = datetime.now(UTC)
    set_messages(backend, [first.id, second.id, third.id], status="delivered", date_updated=now)
    set_messages(backend, [third.id], fallback_reason="not_rcs_capable")
    set_messages(backend, [fourth.id], status="failed")
    code_of = {link.message_id: link.code for link in rows(backend, ShortLink)}
    for message in (first, first, second):
        assert httpx.get(f"{app_url}/l/{code_of[message.id]}").status_code == 302
    httpx.get(f"{app_url}/l/{code_of[third.id]}", headers={"User-Agent": "WhatsApp/2"})
    phone = backend.store.cipher.open(second.recipient, "message.to")
    auth = (shop.sid, shop.token)
    posted = httpx.post(
        f"{app_url}/v1/orders",
        auth=auth,
        json={"order_id": "A-1", "phone": phone, "total": "50", "currency": "USD"},
    )
    assert posted.json()["attributed_to"]["by"] == "click"
    backend.run(
        _ledger(
            backend,
            shop,
            backend.store.cipher.open(third.recipient, "message.to"),
            ConsentKind.OPTED_OUT,
        )
    )

    report = httpx.get(f"{app_url}/v1/campaigns/{sid}/report", auth=auth).json()
    totals = report["totals"]
    cost = sum((m.price for m in (first, second, third)), Decimal(0))
    assert {k: totals[k] for k in ("recipients", "delivered", "clicks", "unique_clicks")} == {
        "recipients": 4,
        "delivered": 3,
        "clicks": 3,
        "unique_clicks": 2,
    }
    assert totals["orders"] == 1 and totals["revenue"] == "50.00" and totals["opt_outs"] == 1
    assert totals["delivery_rate"] == 0.75 and totals["click_rate"] == round(2 / 3, 4)
    assert Decimal(totals["cost"]) == cost
    assert totals["return_on_spend"] == float(round(Decimal(50) / cost, 2))
    [variant] = report["variants"]
    assert set(variant["channels"]) == {"rcs", "sms", "sms_fallback"}
    fell_back = variant["channels"]["sms_fallback"]
    assert (fell_back["recipients"], fell_back["delivered"], fell_back["opt_outs"]) == (1, 1, 1)
    assert fell_back["clicks"] == 0  # the preview fetch is not a click
    assert variant["channels"]["sms"]["recipients"] == 3
    [hour] = report["by_hour"]
    assert (hour["clicks"], hour["orders"], hour["revenue"]) == (3, 1, "50.00")
    assert datetime.fromisoformat(hour["hour"]) == now.replace(minute=0, second=0, microsecond=0)

    csv_report = httpx.get(f"{app_url}/v1/campaigns/{sid}/report?format=csv", auth=auth)
    assert csv_report.headers["content-type"].startswith("text/csv")
    lines = csv_report.text.strip().splitlines()
    assert lines[0].startswith("campaign,variant,channel,recipients,delivered,delivery_rate")
    assert [line.split(",")[2] for line in lines[1:]] == ["rcs", "sms", "sms_fallback"]
    assert (
        httpx.get(f"{app_url}/v1/campaigns/{sid}/report?format=xml", auth=auth).status_code == 400
    )

    stats = httpx.get(f"{app_url}/v1/campaigns/{sid}", auth=auth).json()["stats"]
    assert (stats["clicks"], stats["unique_clicks"], stats["orders"], stats["revenue"]) == (
        3,
        2,
        1,
        "50.00",
    )
    assert stats["variants"][0]["clicks"] == 3

    stranger = backend.tenant("+15005550007")
    theirs = httpx.get(f"{app_url}/v1/campaigns/{sid}/report", auth=(stranger.sid, stranger.token))
    assert theirs.status_code == 404
    dashboard = signed_in(app_url, shop)
    part = dashboard.get(f"/campaigns/{sid}/report")
    assert part.status_code == 200 and 'class="bar-orders"' in part.text
    assert 'data-result="revenue">50.00<' in part.text
    assert dashboard.get(f"/campaigns/{sid}/report.csv").text == csv_report.text
    assert "Send at" not in dashboard.get("/insights").text  # too few texts to say
    assert signed_in(app_url, stranger).get(f"/campaigns/{sid}/report").status_code == 404
    assert browser(app_url).get("/insights").status_code == 303


def test_an_ab_test_is_won_on_clicks_over_delivery(backend, app_url):
    shop = backend.tenant()

    async def start() -> str:
        # 40, so the sample surely holds both variants: with 20 it missed one in ~650 runs.
        await shop_contacts(backend, shop, 40, opted_in=40)
        created = await campaigns.create_campaign(
            backend.store,
            shop.principal,
            {
                "name": "Which link",
                "from": shop.sender,
                "segment": await vip_segment(backend, shop),
                "variants": [
                    {"name": "A", "weight": 1, "content": {"text": "Sale https://a.example"}},
                    {"name": "B", "weight": 1, "content": {"text": "Treat https://b.example"}},
                ],
                "ab_test": {"sample_percent": 60, "metric": "clicks", "decide_after_minutes": 5},
            },
        )
        await campaigns.launch(backend.store, shop.principal, created["sid"])
        return created["sid"]

    sid = backend.run(start())
    clock = clock_at(datetime.now(UTC))
    engine = campaign_fanout(backend, clock)
    backend.run(run_fanout(engine, sid, backend))
    sample = backend.run(messages_of(backend, sid))
    a_ids = [m.id for m in sample if m.campaign_variant == "A"]
    b_ids = [m.id for m in sample if m.campaign_variant == "B"]
    assert a_ids and b_ids
    # A is delivered better, but only B's texts are clicked.
    set_messages(backend, a_ids, status="delivered")
    set_messages(backend, b_ids[:1], status="delivered")
    b_code = rows(backend, ShortLink, ShortLink.message_id == b_ids[0])[0].code
    assert httpx.get(f"{app_url}/l/{b_code}").status_code == 302
    clock.now[0] += timedelta(minutes=6)
    backend.run(run_fanout(engine, sid, backend))
    everyone = backend.run(messages_of(backend, sid))
    assert len(everyone) == 40
    assert {m.campaign_variant for m in everyone[len(sample) :]} == {"B"}
    found = httpx.get(f"{app_url}/v1/insights", auth=(shop.sid, shop.token)).json()
    [test] = [s for s in found["suggestions"] if s["kind"] == "ab_test"]
    assert test["title"] == "“Which link”: variant B won on clicks"
    assert [v["clicks"] for v in test["figures"]["variants"]] == [0, 1]


def test_insights_name_the_best_hour_the_better_channel_and_a_segment_that_opts_out(
    backend, app_url
):
    shop = backend.tenant()
    sid = launched_campaign(backend, shop, "https://shop.example/boots", contacts=44)
    messages = backend.run(messages_of(backend, sid))
    rcs, fallback = messages[:22], messages[22:]
    today = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    set_messages(
        backend,
        [m.id for m in rcs],
        status="delivered",
        channel="rcs",
        date_sent=today.replace(hour=18),
    )
    set_messages(
        backend,
        [m.id for m in fallback],
        status="delivered",
        fallback_reason="not_rcs_capable",
        date_sent=today.replace(hour=9),
    )
    code_of = {link.message_id: link.code for link in rows(backend, ShortLink)}
    for message in [*rcs[:6], fallback[0]]:
        assert httpx.get(f"{app_url}/l/{code_of[message.id]}").status_code == 302
    for message in fallback[-2:]:
        backend.run(
            _ledger(
                backend,
                shop,
                backend.store.cipher.open(message.recipient, "message.to"),
                ConsentKind.OPTED_OUT,
            )
        )

    found = httpx.get(f"{app_url}/v1/insights", auth=(shop.sid, shop.token))
    assert found.status_code == 200
    by_kind = {s["kind"]: s for s in found.json()["suggestions"]}
    hour = by_kind["send_hour"]
    assert hour["figures"]["best_hour_utc"] == 18 and hour["title"] == "Send at 18:00 UTC"
    assert {h["hour_utc"]: h["clicked"] for h in hour["figures"]["hours"]} == {9: 1, 18: 6}
    channel = by_kind["channel"]
    assert channel["title"] == "RCS draws more clicks than its SMS fallback"
    assert channel["figures"]["rcs"]["click_rate"] == round(6 / 22, 4)
    assert channel["figures"]["sms_fallback"]["clicked"] == 1
    segment = by_kind["segment_opt_outs"]
    assert (segment["figures"]["opted_out"], segment["figures"]["messages"]) == (2, 44)
    assert "VIPs" in segment["title"]
    assert "ab_test" not in by_kind  # no A/B test was run


def test_tracking_rows_hold_no_plaintext_and_the_export_gives_everything_back(
    backend, settings, app_url, shop_site, tmp_path
):
    shop = backend.tenant()
    secret_url = f"{shop_site.url}/cart?email=ada%40example.com"
    sid = launched_campaign(backend, shop, secret_url, contacts=2)
    [first, _] = backend.run(messages_of(backend, sid))
    phone = backend.store.cipher.open(first.recipient, "message.to")
    code = rows(backend, ShortLink, ShortLink.message_id == first.id)[0].code
    assert httpx.get(f"{app_url}/l/{code}").status_code == 302
    made = httpx.post(
        f"{app_url}/v1/orders",
        auth=(shop.sid, shop.token),
        json={"order_id": "7", "phone": phone, "email": "ada@example.com", "total": "12.5"},
    )
    assert made.status_code == 201

    async def raw_rows() -> str:
        async with backend.store.db.sessions() as session:
            found = []
            for table in ("short_links", "clicks", "orders"):
                result = await session.execute(text(f"SELECT * FROM {table}"))
                found += [repr(tuple(row)) for row in result]
            return "\n".join(found)

    stored = backend.run(raw_rows())
    for plain in (phone, phone.lstrip("+"), "ada@example.com", "ada%40example.com"):
        assert plain not in stored

    out = tmp_path / "export"
    answer = smsvia(settings, "export", "--account", shop.sid, "--out", str(out))
    assert answer.returncode == 0, answer.stderr
    assert "orders.csv" in answer.stdout
    with (out / "orders.csv").open() as f:
        [order] = list(csv.DictReader(f))
    assert (order["order_id"], order["phone"], order["email"]) == ("7", phone, "ada@example.com")
    assert order["attributed_message_sid"] == first.sid and order["attributed_by"] == "click"
    with (out / "clicks.csv").open() as f:
        [click] = list(csv.DictReader(f))
    assert (click["code"], click["message_sid"], click["kind"]) == (code, first.sid, "click")

    as_json = tmp_path / "json"
    answer = smsvia(
        settings, "export", "--account", shop.sid, "--out", str(as_json), "--format", "json"
    )
    assert answer.returncode == 0, answer.stderr
    contacts = json.loads((as_json / "contacts.json").read_text())
    assert len(contacts) == 2 and {c["first_name"] for c in contacts} == {"Ada", "Grace"}
    links = json.loads((as_json / "short_links.json").read_text())
    assert {link["url"] for link in links} == {secret_url}
    messages = json.loads((as_json / "messages.json").read_text())
    assert {m["sid"] for m in messages} == {m.sid for m in backend.run(messages_of(backend, sid))}
    ledger = json.loads((as_json / "consent_ledger.json").read_text())
    assert [e["kind"] for e in ledger] == ["imported", "imported"] and ledger[0]["evidence"]
    other = backend.tenant("+15005550007")
    answer = smsvia(settings, "export", "--account", other.sid, "--out", str(tmp_path / "o"))
    assert answer.returncode == 0, answer.stderr
    with (tmp_path / "o" / "orders.csv").open() as f:
        assert f.read() == ""  # another account's export holds none of this shop's data
    bad = smsvia(settings, "export", "--account", shop.sid, "--format", "xml")
    assert bad.returncode != 0 and "csv, json" in bad.stderr
