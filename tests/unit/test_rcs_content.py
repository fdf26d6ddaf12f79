"""Rich content: RBM's limits, the RBM JSON, and the SMS a fallback sends."""

from __future__ import annotations

import pytest

from smsvia.domain.rcs import InvalidRichContent, RichContent
from smsvia.domain.rcs_input import parse_rich_content
from smsvia.domain.rendering import rich_sms_text

PHOTO = "https://shop.example/img/boots.jpg"


def card(title="Trail boots", **extra):
    return {"title": title, "description": "Waterproof, 2 colours", "media_url": PHOTO, **extra}


def open_url(text="Buy now", url="https://shop.example/p/1"):
    return {"open_url": {"text": text, "url": url}}


def refused(payload) -> InvalidRichContent:
    with pytest.raises(InvalidRichContent) as caught:
        parse_rich_content(payload)
    return caught.value


def test_text_with_suggestions_becomes_rbm_text_and_chips():
    content = parse_rich_content(
        {"text": "Your order shipped", "suggestions": [{"reply": {"text": "Thanks"}}, open_url()]}
    )
    assert content.to_rbm() == {
        "text": "Your order shipped",
        "suggestions": [
            {"reply": {"text": "Thanks", "postbackData": "Thanks"}},
            {
                "action": {
                    "text": "Buy now",
                    "postbackData": "Buy now",
                    "openUrlAction": {"url": "https://shop.example/p/1"},
                }
            },
        ],
    }


def test_rich_card_becomes_a_standalone_card_with_media():
    rbm = parse_rich_content({"rich_card": card(suggestions=[open_url()])}).to_rbm()
    content = rbm["richCard"]["standaloneCard"]["cardContent"]
    assert content["title"] == "Trail boots"
    assert content["media"]["contentInfo"]["fileUrl"] == PHOTO
    assert content["suggestions"][0]["action"]["openUrlAction"]["url"].endswith("/p/1")


def test_carousel_becomes_a_carousel_card():
    rbm = parse_rich_content({"carousel": [card("A"), card("B"), card("C")]}).to_rbm()
    assert [c["title"] for c in rbm["richCard"]["carouselCard"]["cardContents"]] == ["A", "B", "C"]


def test_dial_calendar_and_location_actions():
    content = parse_rich_content(
        {
            "text": "Book a fitting",
            "suggestions": [
                {"dial": {"text": "Call us", "phone_number": "+14155550100"}},
                {"share_location": {"text": "Nearest store"}},
                {
                    "calendar": {
                        "text": "Add to calendar",
                        "title": "Fitting",
                        "start": "2026-12-01T10:00:00Z",
                        "end": "2026-12-01T10:30:00Z",
                    }
                },
            ],
        }
    )
    actions = [s["action"] for s in content.to_rbm()["suggestions"]]
    assert actions[0]["dialAction"] == {"phoneNumber": "+14155550100"}
    assert actions[1]["shareLocationAction"] == {}
    assert actions[2]["createCalendarEventAction"]["startTime"] == "2026-12-01T10:00:00Z"


def test_stored_shape_reads_back_the_same():
    payload = {
        "rich_card": card(
            suggestions=[open_url(), {"reply": {"text": "Later", "postback_data": "l"}}]
        ),
        "suggestions": [{"dial": {"text": "Call", "phone_number": "+14155550100"}}],
    }
    content = parse_rich_content(payload)
    assert parse_rich_content(content.to_json()) == content


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "text"),
        ({"text": "a", "rich_card": card()}, "rich_card"),
        ({"text": "x" * 3073}, "text"),
        ({"text": "a", "suggestions": [{"reply": {"text": "r"}}] * 12}, "suggestions"),
        (
            {"text": "a", "suggestions": [{"reply": {"text": "x" * 26}}]},
            "suggestions[0].reply.text",
        ),
        ({"text": "a", "suggestions": [{"teleport": {"text": "x"}}]}, "suggestions[0]"),
        ({"text": "a", "suggestions": [open_url(url="ftp://x")]}, "suggestions[0].open_url.url"),
        (
            {"text": "a", "suggestions": [{"dial": {"text": "Call", "phone_number": "555"}}]},
            "suggestions[0].dial.phone_number",
        ),
        ({"rich_card": {"suggestions": []}}, "rich_card"),
        ({"rich_card": card(title="é" * 101)}, "rich_card.title"),
        ({"rich_card": card(suggestions=[open_url()] * 5)}, "rich_card.suggestions"),
        ({"carousel": [card()]}, "carousel"),
        ({"carousel": [card()] * 11}, "carousel"),
        ({"carousel": [card(), {"title": 5}]}, "carousel[1].title"),
        ({"media_url": "not a url"}, "media_url"),
    ],
)
def test_limits_are_refused_naming_the_field(payload, field):
    assert refused(payload).field == field


def test_calendar_end_must_follow_start():
    error = refused(
        {
            "text": "a",
            "suggestions": [
                {
                    "calendar": {
                        "text": "Add",
                        "title": "T",
                        "start": "2026-12-01T10:00:00Z",
                        "end": "2026-12-01T09:00:00Z",
                    }
                }
            ],
        }
    )
    assert error.field == "suggestions[0].calendar.end"


def test_payload_over_250_kb_is_refused():
    cards = [card(f"Card {i}", description="d" * 2000) for i in range(10)]
    many = [open_url(url="https://shop.example/" + "p" * 8000)] * 4
    cards = [{**c, "suggestions": many} for c in cards]
    assert refused({"carousel": cards, "suggestions": many}).field == "carousel"


def test_basic_message_is_short_plain_text_only():
    assert parse_rich_content({"text": "x" * 160}).is_basic
    assert not parse_rich_content({"text": "x" * 161}).is_basic
    assert not parse_rich_content({"text": "hi", "suggestions": [open_url()]}).is_basic
    assert not parse_rich_content({"rich_card": card()}).is_basic


def test_sms_of_a_card_has_title_text_preview_link_and_link_actions():
    content = parse_rich_content(
        {"rich_card": card(suggestions=[open_url(), {"reply": {"text": "Not now"}}])}
    )
    assert rich_sms_text(content, "https://s.example/m/abc") == (
        "Trail boots\nWaterproof, 2 colours\nhttps://s.example/m/abc\n"
        "Buy now: https://shop.example/p/1"
    )


def test_sms_of_a_carousel_lists_titles_and_links_once():
    content = parse_rich_content(
        {
            "carousel": [
                {"title": "Boots", "suggestions": [open_url("Boots", "https://s.example/b")]},
                {"title": "Socks", "media_url": PHOTO},
            ],
            "suggestions": [open_url("Boots", "https://s.example/b")],
        }
    )
    assert rich_sms_text(content, "https://s.example/m/x") == (
        "Boots\nBoots: https://s.example/b\nSocks\nhttps://s.example/m/x"
    )


def test_sms_of_text_keeps_it_and_drops_replies():
    content = RichContent(text="Hi")
    assert rich_sms_text(content) == "Hi"
    with_reply = parse_rich_content({"text": "Hi", "suggestions": [{"reply": {"text": "Yo"}}]})
    assert rich_sms_text(with_reply) == "Hi"


def test_media_urls_and_title_for_the_preview_page():
    content = parse_rich_content({"carousel": [card("A"), card("B", media_url=PHOTO + "?2")]})
    assert content.media_urls == (PHOTO, PHOTO + "?2")
    assert content.title == "A"
