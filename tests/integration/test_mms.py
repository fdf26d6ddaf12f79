"""MMS end to end, on SQLite and PostgreSQL: twilio-python sends pictures through the API,
the worker fetches, fits and submits them over MM7 to the MMSC simulator, reports come back
to the MM7 webhook; where MMS cannot go, the SMS with a preview link goes instead."""

from __future__ import annotations

import io
import random
import re
import time

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from smsvia.api.app import create_app
from smsvia.domain import mm7
from smsvia.services.contacts import save_contact
from smsvia.store.media_models import Media
from tests.integration.conftest import ServerThread
from tests.integration.mms_stack import MmsStack
from tests.processes import daytime_zone

US, UK = "+12125551000", "+447911123456"
EVIDENCE = {"consent": "yes", "consent_date": "2026-10-01", "consent_source": "checkout"}


def picture(width: int = 64, height: int = 48, kind: str = "JPEG", quality: int = 90) -> bytes:
    rng = random.Random(width * height)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    out = io.BytesIO()
    image.save(out, kind, quality=quality)
    return out.getvalue()


def animation(frames: int = 5, size: int = 300) -> bytes:
    images = [
        Image.frombytes("RGB", (size, size), random.Random(n).randbytes(size * size * 3))
        for n in range(frames)
    ]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


@pytest.fixture
def stack(backend, settings):
    built = MmsStack(backend, settings, max_bytes=120_000, timeout=0.5)
    yield built
    built.close()


def twilio(stack: MmsStack) -> Client:
    client = Client(stack.shop.sid, stack.shop.token, http_client=TwilioHttpClient())
    client.api.base_url = stack.url
    return client


def test_a_picture_to_a_us_number_goes_by_mms_and_is_delivered(stack):
    photo = picture()
    url = stack.pictures.put("/box.jpg", "image/jpeg", photo)
    client = twilio(stack)
    sent = client.messages.create(to=US, from_=stack.shop.sender, body="Your box", media_url=[url])
    assert sent.sid.startswith("MM") and sent.num_media == "1"
    message = stack.wait_for(sent.sid, "delivered")
    assert (message["channel"], message["fallback_reason"]) == ("mms", None)
    assert message["price"] == "-0.06000"  # four SMS segments, the US default
    [submit] = stack.mmsc.sim.records.accepted
    assert (submit.recipient, submit.text) == (US, "Your box")
    assert submit.attachments == (mm7.Attachment("image/jpeg", photo, "media0"),)
    assert stack.texts_to(US) == []  # one of the two, never both
    [medium] = client.messages(sent.sid).media.list()
    assert (medium.content_type, medium.parent_sid) == ("image/jpeg", sent.sid)
    assert medium.sid.startswith("ME")
    content = httpx.get(f"{stack.url}{medium.uri.removesuffix('.json')}")
    assert content.content == photo and content.headers["content-type"] == "image/jpeg"
    assert stack.pictures.requests == ["/box.jpg"]  # fetched once


def test_a_picture_to_a_uk_number_goes_as_sms_with_a_preview_link(stack):
    url = stack.pictures.put("/box.jpg", "image/jpeg", picture())
    sent = twilio(stack).messages.create(
        to=UK, from_=stack.shop.sender, body="Your box", media_url=[url]
    )
    message = stack.wait_for(sent.sid, "delivered")
    assert message["status_label"] == "Sent as SMS via server"
    assert (message["channel"], message["fallback_reason"]) == ("sms", "mms_not_supported")
    [text] = stack.texts_to(UK)
    link = re.fullmatch(rf"Your box\n({re.escape(stack.url)}/m/[\w-]+)", text)
    assert link is not None, text
    page = httpx.get(link.group(1))
    assert f'<meta property="og:image" content="{url}"' in page.text
    assert stack.mmsc.sim.records.accepted == []
    assert stack.pictures.requests == []  # an SMS carries no picture


def test_a_large_photo_is_re_encoded_under_the_connectors_limit(stack):
    big = picture(2400, 1600, quality=95)
    assert len(big) > 1_000_000
    url = stack.pictures.put("/big.jpg", "image/jpeg", big)
    sent = twilio(stack).messages.create(to=US, from_=stack.shop.sender, media_url=[url])
    message = stack.wait_for(sent.sid, "delivered")
    [submit] = stack.mmsc.sim.records.accepted
    [attachment] = submit.attachments
    assert attachment.content_type == "image/jpeg" and len(attachment.data) <= 120_000
    assert any("re-encoded" in e["detail"] for e in message["timeline"] if e["event"] == "media")


def test_an_animated_gif_stays_animated(stack):
    gif = animation()
    assert len(gif) > 120_000
    url = stack.pictures.put("/spin.gif", "image/gif", gif)
    sent = twilio(stack).messages.create(to=US, from_=stack.shop.sender, media_url=[url])
    stack.wait_for(sent.sid, "delivered")
    [attachment] = stack.mmsc.sim.records.accepted[0].attachments
    assert attachment.content_type == "image/gif" and len(attachment.data) <= 120_000
    assert Image.open(io.BytesIO(attachment.data)).n_frames == 5


def test_a_media_url_that_answers_404_fails_the_message_with_11200(stack):
    missing = f"{stack.pictures.url}/gone.jpg"
    sent = twilio(stack).messages.create(to=US, from_=stack.shop.sender, media_url=[missing])
    message = stack.wait_for(sent.sid, "failed")
    assert message["error_code"] == 11200 and "404" in message["error_message"]
    assert stack.mmsc.sim.records.accepted == [] and stack.texts_to(US) == []


def test_an_mmsc_refusal_sends_the_sms_with_a_link_priced_as_that_sms(stack):
    refusing = "+12125551044"
    url = stack.pictures.put("/box.jpg", "image/jpeg", picture())
    sent = twilio(stack).messages.create(
        to=refusing, from_=stack.shop.sender, body="Your box", media_url=[url]
    )
    message = stack.wait_for(sent.sid, "delivered")
    assert message["fallback_reason"] == "mms_error"
    assert message["status_label"] == "Sent as SMS via server"
    assert message["price"] == "-0.01500"  # one SMS segment, not the MMS
    [text] = stack.texts_to(refusing)
    assert text.startswith("Your box\n") and "/m/" in text
    assert twilio(stack).messages(sent.sid).media.list() == []  # it went as SMS
    assert stack.backend.run(media_rows(stack.backend)) == 0


def test_an_mmsc_that_never_answers_leaves_it_sent_and_sends_nothing_else(stack):
    silent = "+12125551088"
    url = stack.pictures.put("/box.jpg", "image/jpeg", picture())
    sent = twilio(stack).messages.create(to=silent, from_=stack.shop.sender, media_url=[url])
    message = stack.wait_for(sent.sid, "sent")
    assert any(e["event"] == "ambiguous" for e in message["timeline"])
    assert stack.texts_to(silent) == []
    assert stack.wait_for(sent.sid, "sent")["fallback_reason"] is None


def test_a_malformed_report_is_refused_and_a_repeated_one_changes_nothing(stack):
    url = stack.pictures.put("/box.jpg", "image/jpeg", picture())
    sent = twilio(stack).messages.create(to=US, from_=stack.shop.sender, media_url=[url])
    before = stack.wait_for(sent.sid, "delivered")
    garbage = httpx.post(
        f"{stack.url}/mm7/mmsc", content=b"<not-soap", headers={"Content-Type": "text/xml"}
    )
    assert garbage.status_code == 400 and b"2007" in garbage.content
    [report] = stack.mmsc.sim.records.reports
    body, content_type = mm7.delivery_report_request(report)
    unknown = httpx.post(
        f"{stack.url}/mm7/nope", content=body, headers={"Content-Type": content_type}
    )
    assert unknown.status_code == 404
    again = httpx.post(
        f"{stack.url}/mm7/mmsc", content=body, headers={"Content-Type": content_type}
    )
    assert again.status_code == 200
    assert mm7.parse_answer(again.content, "text/xml", "DeliveryReportRsp").status == 1000
    time.sleep(1.5)  # a sweep of the receipt inbox
    after = stack.wait_for(sent.sid, "delivered")
    assert [e["event"] for e in after["timeline"]] == [e["event"] for e in before["timeline"]]


def test_private_and_metadata_media_urls_are_refused_at_the_api(settings, backend):
    shop = backend.tenant()
    guarded = settings.model_copy(update={"allow_private_urls": False})
    running = ServerThread(create_app(guarded))
    client = Client(shop.sid, shop.token, http_client=TwilioHttpClient())
    client.api.base_url = running.url
    for url in ("http://127.0.0.1/x.jpg", "http://169.254.169.254/latest/meta-data/"):
        with pytest.raises(TwilioRestException) as refused:
            client.messages.create(to=US, from_=shop.sender, body="x", media_url=[url])
        assert (refused.value.status, refused.value.code) == (400, 21620)
        assert "non-public" in refused.value.msg
    running.stop()


def test_an_inbound_mms_is_stored_and_forwarded_with_its_media(
    backend, settings, callback_receiver
):
    built = MmsStack(backend, settings, sms_url=callback_receiver.url + "/sms")
    try:
        photo = picture()
        attachment = mm7.Attachment("image/jpeg", photo, "me.jpg")
        assert built.mmsc.call(
            built.mmsc.sim.handset_sends(US, built.shop.sender, "is it in M?", (attachment,))
        )
        deadline = time.monotonic() + 15
        while not callback_receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        [forward] = callback_receiver.received
        params = forward.params
        assert (params["From"], params["To"], params["Body"]) == (
            US,
            built.shop.sender,
            "is it in M?",
        )
        assert (params["NumMedia"], params["MediaContentType0"]) == ("1", "image/jpeg")
        assert httpx.get(params["MediaUrl0"]).content == photo
        listed = built.http.get(
            f"/2010-04-01/Accounts/{built.shop.sid}/Messages.json", params={"From": US}
        ).json()["messages"]
        assert [(m["direction"], m["num_media"], m["channel"]) for m in listed] == [
            ("inbound", "1", "mms")
        ]
    finally:
        built.close()


def test_the_relay_must_sign_in_when_the_connector_has_credentials(backend, settings):
    built = MmsStack(backend, settings, credentials=("shop", "pw"))
    try:
        url = built.pictures.put("/box.jpg", "image/jpeg", picture())
        sent = built.http.post(
            f"/2010-04-01/Accounts/{built.shop.sid}/Messages.json",
            data={"To": US, "From": built.shop.sender, "MediaUrl": url},
        ).json()
        built.wait_for(sent["sid"], "delivered")  # the report came in with the credentials
        report = mm7.delivery_report_request(mm7.DeliveryReport("t", "1", US, "+1", "Retrieved"))
        anonymous = httpx.post(
            f"{built.url}/mm7/mmsc", content=report[0], headers={"Content-Type": report[1]}
        )
        assert anonymous.status_code == 401 and b"4001" in anonymous.content
    finally:
        built.close()


def test_a_native_card_with_a_picture_goes_by_mms_with_its_text(stack):
    url = stack.pictures.put("/boots.jpg", "image/jpeg", picture())
    card = {
        "title": "Trail boots",
        "description": "Back in stock",
        "media_url": url,
        "suggestions": [{"open_url": {"text": "Buy", "url": "https://shop.example/p/1"}}],
    }
    answer = stack.http.post(
        "/v1/messages", json={"to": US, "from": stack.shop.sender, "rich_card": card}
    )
    assert answer.status_code == 201, answer.text
    message = stack.wait_for(answer.json()["sid"], "delivered")
    assert (message["channel"], message["num_media"]) == ("mms", "1")
    [submit] = stack.mmsc.sim.records.accepted
    assert submit.text == "Trail boots\nBack in stock\nBuy: https://shop.example/p/1"
    assert [a.content_type for a in submit.attachments] == ["image/jpeg"]


def test_a_campaign_with_a_picture_is_previewed_and_sent_as_mms(stack):
    zone = daytime_zone()
    contacts = []
    for n in range(3):
        view, _ = stack.backend.run(
            save_contact(
                stack.backend.store,
                stack.shop.principal,
                {"phone": f"+1212555{n:04d}", "time_zone": zone, **EVIDENCE},
            )
        )
        contacts.append(view.sid)
    url = stack.pictures.put("/drop.jpg", "image/jpeg", picture())
    made = stack.http.post(
        "/v1/campaigns",
        json={
            "name": "Winter drop",
            "from": stack.shop.sender,
            "contacts": contacts,
            "content": {"media_url": url},
        },
    ).json()
    preview = stack.http.post(f"/v1/campaigns/{made['sid']}/preview").json()
    assert preview["estimated_cost"]["mms_messages"] == 3
    assert preview["estimated_cost"]["total"] == "0.18"  # three MMS at 0.06
    assert {sample["channel"] for sample in preview["samples"]} == {"mms"}
    assert stack.http.post(f"/v1/campaigns/{made['sid']}/launch").status_code == 200
    deadline = time.monotonic() + 20
    while len(stack.mmsc.sim.records.reports) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(s.recipient for s in stack.mmsc.sim.records.accepted) == [
        "+12125550000",
        "+12125550001",
        "+12125550002",
    ]
    assert stack.pictures.requests == ["/drop.jpg"]  # one fetch for the whole campaign


async def media_rows(backend) -> int:
    async with backend.store.db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Media))
