"""The campaign page's live figures keep polling until the last receipt is in: a campaign
completes when its fan-out is done, which can be before its messages are delivered."""

from __future__ import annotations

import pytest

from smsvia.web.templating import templates

FINAL = {"delivered": 9, "read": 0, "failed": 0, "undelivered": 0}


def live(status: str, **figures: int) -> str:
    stats = {
        "recipients": 9,
        "queued": 0,
        "sent": 0,
        "sent_as_sms_fallback": 0,
        "excluded": 0,
        "opted_out": 0,
        "cost": "0.0711",
        **FINAL,
        **figures,
    }
    campaign = {"sid": "CM" + "0" * 32, "status": status, "stats": stats}
    return templates.env.get_template("_campaign_live.html").render(campaign=campaign, messages=[])


@pytest.mark.parametrize("status", ["scheduled", "sending"])
def test_a_campaign_going_out_polls(status):
    assert 'hx-trigger="every 2s"' in live(status)


@pytest.mark.parametrize("waiting", [{"sent": 8, "delivered": 1}, {"queued": 2, "delivered": 7}])
def test_a_completed_campaign_polls_while_receipts_are_due(waiting):
    assert 'hx-trigger="every 2s"' in live("completed", **waiting)


@pytest.mark.parametrize("status", ["completed", "canceled", "budget_exhausted", "draft"])
def test_a_settled_campaign_stops_polling(status):
    assert "hx-trigger" not in live(status)
