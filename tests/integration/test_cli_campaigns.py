"""The README's campaign walk-through as a user types it, on both databases: import contacts,
build a segment, write a personalized campaign, preview it, launch it at each recipient's
local time, pause and resume it, read its status; and the errors a user makes."""

from __future__ import annotations

import json

from tests.integration.test_cli_connectors import smsvia

CSV = """phone,first_name,tags,time_zone,consent,consent_date,size
+12125550100,Ada,vip,America/New_York,yes,2026-10-01,M
+13105550100,Grace,vip,America/Los_Angeles,yes,2026-10-01,S
+13055550100,Zoë,vip,,yes,2026-10-01,L
+12125550101,Alan,vip,,,,M
+12125550102,Linus,boots,,yes,2026-10-01,M
"""


def ok(answer) -> str:
    assert answer.returncode == 0, answer.stderr
    return answer.stdout


def test_the_readme_campaign_from_the_command_line(backend, settings, tmp_path):
    shop = backend.tenant()
    (tmp_path / "customers.csv").write_text(CSV)
    imported = ok(
        smsvia(
            settings, "contacts", "import", str(tmp_path / "customers.csv"), "--account", shop.sid
        )
    )
    assert "5 contacts created" in imported

    made = json.loads(
        ok(
            smsvia(
                settings,
                "segments",
                "create",
                "--account",
                shop.sid,
                "--name",
                "VIPs",
                "--where",
                "tags contains vip",
                "--where",
                "marketing_allowed eq true",
                "--json",
            )
        )
    )
    assert made["count"] == 3  # Alan has no consent, Linus is not a VIP
    assert made["sid"] in ok(smsvia(settings, "segments", "list", "--account", shop.sid))

    (tmp_path / "winter.json").write_text(
        json.dumps(
            {
                "name": "Winter drop",
                "from": shop.sender,
                "segment": made["sid"],
                "content": {
                    "text": 'Hi {{ first_name | default: "there" }}, '
                    "size {{ attributes.size }} is back!"
                },
                "local_send_time": "10:00",
                "budget": "5.00",
            }
        )
    )
    campaign = json.loads(
        ok(
            smsvia(
                settings,
                "campaigns",
                "create",
                "--account",
                shop.sid,
                str(tmp_path / "winter.json"),
                "--json",
            )
        )
    )
    sid = campaign["sid"]
    assert campaign["status"] == "draft"

    seen = json.loads(
        ok(smsvia(settings, "campaigns", "preview", "--account", shop.sid, sid, "--json"))
    )
    assert seen["eligible"] == 3 and seen["excluded"]["no_consent"] == 0
    texts = {s["text"]: s for s in seen["samples"]}
    assert texts["Hi Ada, size M is back!"]["encoding"] == "GSM-7"
    assert texts["Hi Zoë, size L is back!"]["encoding"] == "UCS-2"
    assert all(s["send_at"] for s in seen["samples"])  # each at 10:00 in their zone
    human = ok(smsvia(settings, "campaigns", "preview", "--account", shop.sid, sid))
    assert "3 of 3 recipients" in human and "UCS-2" in human

    launched = ok(smsvia(settings, "campaigns", "launch", "--account", shop.sid, sid, "--no-watch"))
    assert "sending" in launched
    assert "paused" in ok(smsvia(settings, "campaigns", "pause", "--account", shop.sid, sid))
    assert "sending" in ok(smsvia(settings, "campaigns", "resume", "--account", shop.sid, sid))
    status = json.loads(
        ok(smsvia(settings, "campaigns", "status", "--account", shop.sid, sid, "--json"))
    )
    assert status["stats"]["recipients"] == 3 and status["local_send_time"] == "10:00"


def test_command_line_mistakes_get_one_clear_line(backend, settings, tmp_path):
    shop = backend.tenant()
    bad_where = smsvia(
        settings, "segments", "create", "--account", shop.sid, "--name", "x", "--where", "tags vip"
    )
    assert bad_where.returncode != 0 and "FIELD OP VALUE" in bad_where.stderr
    unknown = smsvia(
        settings,
        "segments",
        "create",
        "--account",
        shop.sid,
        "--name",
        "x",
        "--where",
        "shoe eq 42",
    )
    assert unknown.returncode != 0 and "unknown field 'shoe'" in unknown.stderr
    (tmp_path / "broken.json").write_text("{not json")
    broken = smsvia(
        settings, "campaigns", "create", "--account", shop.sid, str(tmp_path / "broken.json")
    )
    assert broken.returncode != 0 and "cannot read" in broken.stderr
    missing = smsvia(settings, "campaigns", "status", "--account", shop.sid, "CM" + "0" * 32)
    assert missing.returncode != 0 and "not found" in missing.stderr
    for answer in (bad_where, unknown, broken, missing):
        assert "Traceback" not in answer.stderr
