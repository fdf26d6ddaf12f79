"""`smsvia serve --demo` and `smsvia sim smsc` run as a user runs them: the installed command
in a child process, and the examples the banner prints pasted as they are."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest
from twilio.rest import Client

from smsvia.channels.base import PartOutcome, SmsSubmission
from smsvia.channels.rcs import RbmChannel, RcsConfig, SendOutcome
from smsvia.channels.smpp import SmppChannel, SmppConfig
from smsvia.domain.encoding import segment, to_parts
from tests.processes import (
    SMSVIA,
    Running,
    clean_environment,
    demo_credentials,
    demo_server,
    free_port,
)


@pytest.fixture
def demo(tmp_path):
    with demo_server(tmp_path) as running_and_port:
        yield running_and_port


def test_demo_banner_examples_deliver_a_message(demo, tmp_path):
    running, port = demo
    banner = running.out.read_text()
    sid, token = demo_credentials(running)
    assert re.search(rf"Dashboard\s+http://127\.0\.0\.1:{port}/\s", banner)

    # The curl example, pasted into a shell as it is printed.
    curl = re.search(r"(curl .*?Body=Your order #1042 has shipped\")", banner, re.S).group(1)
    made = subprocess.run(
        ["sh", "-c", curl], capture_output=True, text=True, timeout=30, check=True
    )
    created = httpx.Response(201, text=made.stdout).json()
    assert created["status"] == "queued" and created["to"] == "+14155550100"

    # The twilio-python example, run as it is printed.
    example = banner[banner.index("from twilio.rest import Client") : banner.index("RCS first")]
    example = example.strip()
    example = "\n".join(line.strip() for line in example.splitlines())
    ran = subprocess.run(
        [sys.executable, "-c", example], capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() in ("queued", "sending", "sent", "delivered")

    client = Client(sid, token)
    client.api.base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while {m.status for m in client.messages.list()} != {"delivered"}:
        assert time.monotonic() < deadline, [(m.sid, m.status) for m in client.messages.list()]
        time.sleep(0.2)
    assert len(client.messages.list()) == 2
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert re.search(
        r'smsvia_message_status_changes_total\{channel="sms",status="delivered"\} 2', metrics
    )
    assert (tmp_path / "smsvia-data" / "smsvia.db").exists()


def test_demo_keeps_its_account_across_restarts(tmp_path):
    env = clean_environment()
    sids = []
    for _ in range(2):
        running = Running(["serve", "--demo", "--port", str(free_port())], tmp_path, env=env)
        try:
            found = running.wait_for_output(r"Account SID\s+(AC[0-9a-f]{32}).*Auth Token\s+(\w+)")
            sids.append(found.groups())
        finally:
            running.stop()
    assert sids[0] == sids[1]


def test_sim_smsc_command_is_a_real_smsc(tmp_path):
    port = free_port()
    sim = Running(["sim", "smsc", "--port", str(port), "--throttle-tps", "1000"], tmp_path)
    sim.wait_for_output(rf"SMSC simulator on 127\.0\.0\.1:{port}")

    async def send() -> list:
        channel = SmppChannel("cli", SmppConfig("127.0.0.1", port, "smsvia", "secret"))
        heard = []

        async def on_inbound(inbound):
            heard.append(inbound)

        await channel.start(on_inbound)
        try:
            parts = to_parts(segment("hello from the CLI simulator"), 1)
            results = await channel.submit(
                SmsSubmission("SMtest", "+15005550006", "+14155550100", parts)
            )
            for _ in range(100):
                if heard:
                    break
                await asyncio.sleep(0.05)
            return [results, heard]
        finally:
            await channel.close()

    results, heard = asyncio.run(send())
    assert [r.outcome for r in results] == [PartOutcome.ACCEPTED]
    assert heard and heard[0].receipt.state == "DELIVRD"
    assert heard[0].receipt.message_id == results[0].smsc_message_id
    assert sim.stop() == 0
    assert "accepted 1 submits, sent 1 receipts" in sim.out.read_text()


def test_sim_smsc_says_why_it_cannot_listen(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [SMSVIA, "sim", "smsc", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_sim_rcs_command_is_a_real_rbm_platform(tmp_path):
    port = free_port()
    sim = Running(["sim", "rcs", "--port", str(port)], tmp_path)
    sim.wait_for_output(rf"RBM simulator on http://127\.0\.0\.1:{port}")

    async def use() -> tuple:
        channel = RbmChannel("cli", RcsConfig(f"http://127.0.0.1:{port}", "agent"))
        try:
            sent = await channel.send("+14155550102", "SMcli", {"text": "hi"}, 60)
            return await channel.capable("+14155550103"), sent.outcome
        finally:
            await channel.close()

    assert asyncio.run(use()) == (False, SendOutcome.ACCEPTED)
    time.sleep(0.2)
    assert sim.stop() == 0
    assert "delivered 1 messages, revoked 0" in sim.out.read_text()


def run_banner_loop(demo, pattern: str, done: set[str]) -> list[dict]:
    """Paste the banner's `for to in …` loop that `pattern` finds into bash; return the
    two messages it made once each is in one of the `done` statuses."""
    running, port = demo
    sid, token = demo_credentials(running)
    loop = re.search(pattern, running.out.read_text(), re.S).group(1)
    made = subprocess.run(["bash", "-c", loop], capture_output=True, text=True, timeout=30)
    sids = [json.loads(line)["sid"] for line in made.stdout.splitlines() if line.strip()]
    assert len(sids) == 2, made.stdout + made.stderr

    def fetch(message_sid: str) -> dict:
        url = f"http://127.0.0.1:{port}/v1/messages/{message_sid}"
        return httpx.get(url, auth=(sid, token)).json()

    deadline = time.monotonic() + 30
    while {fetch(s)["status"] for s in sids} - done:
        assert time.monotonic() < deadline, [fetch(s)["timeline"] for s in sids]
        time.sleep(0.2)
    return [fetch(s) for s in sids]


def test_demo_banner_rcs_example_shows_rcs_and_sms_fallback_side_by_side(demo):
    rcs, sms = run_banner_loop(demo, r"(  for to in .*?done)", {"delivered", "read"})
    assert (rcs["channel"], rcs["fallback_reason"]) == ("rcs", None)
    assert (sms["channel"], sms["fallback_reason"]) == ("sms", "not_rcs_capable")
    assert sms["status_label"] == "Sent as SMS via server"
    assert f"http://127.0.0.1:{demo[1]}/m/" in sms["body"]  # the preview link for the picture


def test_demo_banner_picture_goes_by_mms_to_the_us_and_as_sms_with_a_link_abroad(demo):
    loop = r"(  for to in [^\n]*\n[^\n]*Messages\.json.*?done)"
    mms, sms = run_banner_loop(demo, loop, {"delivered"})
    assert (mms["channel"], mms["num_media"], mms["fallback_reason"]) == ("mms", "1", None)
    assert (sms["channel"], sms["fallback_reason"]) == ("sms", "mms_not_supported")
    assert sms["status_label"] == "Sent as SMS via server"
    phone = httpx.get(f"http://127.0.0.1:{demo[1]}/demo/phone", params={"number": "+14155550100"})
    assert 'src="data:image/jpeg;base64,' in phone.text
