"""A campaign to N contacts, end to end: import, segment count, preview, fan-out, delivery.

Run: python benchmarks/campaign.py [--recipients 100000] [--db postgresql|sqlite]
     [--no-deliver] [--no-link]

N contacts with consent are imported (`smsvia contacts import`), a segment over them is
counted, the campaign previewed (every recipient rendered, priced and checked) and launched;
a `smsvia worker` process fans it out and, with the SMSC simulator running, sends it. The
worker's resident memory is sampled all along: flat memory means the fan-out streams.
The text carries a link, so each recipient's message gets its own short link (as a shop's
campaigns do); `--no-link` measures a text without one. `--no-deliver` leaves the simulator
off, so the worker only fans out (the 1M case: sending a million at the send path's rate is a
separate measurement, benchmarks/e2e.py).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import signal
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from _support import SMSVIA, drop_database, free_port, new_database, peak_rss_mb
from sqlalchemy import func, select

from smsvia.config import Settings
from smsvia.runtime import open_store
from smsvia.services import accounts, campaigns, senders
from smsvia.services.accounts import acting_for
from smsvia.services.campaign_preview import preview
from smsvia.services.compliance import load_rules
from smsvia.services.quote import load_price_book
from smsvia.services.segments import create_segment, get_segment
from smsvia.store.marketing_models import Campaign
from smsvia.store.models import Message
from smsvia.store.schema import upgrade

SENDER = "+15005550006"


def daytime_zone() -> str:
    now = datetime.now(UTC)
    for name in (
        "America/New_York",
        "America/Los_Angeles",
        "Pacific/Honolulu",
        "Asia/Tokyo",
        "Asia/Kolkata",
        "Europe/Berlin",
        "America/Sao_Paulo",
    ):
        if 10 <= now.astimezone(ZoneInfo(name)).hour < 18:
            return name
    return "UTC"


def write_csv(path: Path, rows: int) -> None:
    zone = daytime_zone()
    with path.open("w") as out:
        out.write("phone,first_name,tags,time_zone,consent,consent_date,size\n")
        for i in range(rows):
            out.write(f"+1212{2000000 + i:07d},Ana{i % 997},vip,{zone},yes,2026-10-01,M\n")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


WAITING = ("accepted", "scheduled", "queued", "sending")


async def message_counts(store, campaign_sid: str) -> tuple[int, int]:
    """(messages written, messages still waiting to go)."""
    async with store.db.sessions() as session:
        rows = await session.execute(
            select(Message.status, func.count())
            .where(Message.campaign_sid == campaign_sid)
            .group_by(Message.status)
        )
        counts = dict(rows.all())
    return sum(counts.values()), sum(counts.get(status, 0) for status in WAITING)


async def delivery_times(store, campaign_sid: str) -> tuple[int, datetime, datetime]:
    """(delivered, launch, last delivery), by the database's clock."""
    async with store.db.sessions() as session:
        launched = await session.scalar(
            select(Campaign.launched_at).where(Campaign.sid == campaign_sid)
        )
        delivered, last = (
            await session.execute(
                select(func.count(), func.max(Message.date_updated)).where(
                    Message.campaign_sid == campaign_sid, Message.status == "delivered"
                )
            )
        ).one()
    return delivered, launched, last


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--db", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--no-deliver", action="store_true")
    parser.add_argument("--profile", type=Path, help="py-spy the worker into this directory")
    parser.add_argument(
        "--no-link",
        action="store_true",
        help="a text without a link (by default it carries one, shortened per recipient)",
    )
    args = parser.parse_args()
    link = "" if args.no_link else " Shop: https://shop.example/collections/new?ref=sms"
    n = args.recipients
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        url, scratch = await new_database(args.db, work / "bench.db")
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        store = open_store(Settings(data_dir=work, database_url=url, master_key=key))
        await upgrade(store.db)
        shop = await accounts.create_account(store, "bench")
        smsc_port = free_port()
        connector = senders.SmppSettings("127.0.0.1", smsc_port, "smsvia", tps=10_000, window=100)
        await senders.add_smpp_connector(store, "bench", connector, "secret")
        await senders.add_number(store, shop.sid, SENDER, connector="bench")
        env = {
            **os.environ,
            "SMSVIA_DATABASE_URL": url,
            "SMSVIA_MASTER_KEY": key,
            "SMSVIA_DATA_DIR": str(work),
            "SMSVIA_LOG_LEVEL": "warning",
        }
        logs = (work / "bench.log").open("wb")
        children = []
        try:
            path = work / "contacts.csv"
            write_csv(path, n)
            started = time.perf_counter()
            subprocess.run(
                [SMSVIA, "contacts", "import", str(path), "--account", shop.sid],
                env=env,
                check=True,
                stdout=logs,
                stderr=logs,
            )
            imported = time.perf_counter() - started
            print(f"  imported {n:,} contacts in {imported:.1f} s", flush=True)
            principal = await acting_for(store, shop.sid)
            segment = await create_segment(
                store,
                principal,
                "VIPs",
                "all",
                [
                    {"field": "tags", "op": "contains", "value": "vip"},
                    {"field": "marketing_allowed", "op": "eq", "value": True},
                ],
            )
            started = time.perf_counter()
            counted = await get_segment(store, principal, segment.sid)
            count_seconds = time.perf_counter() - started
            made = await campaigns.create_campaign(
                store,
                principal,
                {
                    "name": "Bench",
                    "from": SENDER,
                    "segment": segment.sid,
                    "channel": "sms",
                    "content": {
                        "text": 'Hi {{ first_name | default: "there" }}, size '
                        "{{ attributes.size }} is back in stock!" + link
                    },
                },
            )
            started = time.perf_counter()
            seen = await preview(
                store,
                principal,
                made["sid"],
                price_book=load_price_book(),
                rules_book=load_rules(),
                public_url="http://127.0.0.1:8080",
            )
            preview_seconds = time.perf_counter() - started
            print(
                f"  segment counted in {count_seconds:.2f} s, previewed in {preview_seconds:.1f} s",
                flush=True,
            )
            if not args.no_deliver:
                smsc = [SMSVIA, "sim", "smsc", "--port", str(smsc_port), "--dlr-delay", "0.05"]
                children.append(subprocess.Popen(smsc, env=env, stdout=logs, stderr=logs))
            worker = subprocess.Popen([SMSVIA, "worker"], env=env, stdout=logs, stderr=logs)
            children.append(worker)
            time.sleep(2)  # the worker is up and bound
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
                spy = [
                    "py-spy",
                    "record",
                    "--pid",
                    str(worker.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "50",
                    "--output",
                    str(args.profile / "worker.txt"),
                ]
                children.append(subprocess.Popen(spy, stdout=logs, stderr=logs))
            baseline = rss_mb(worker.pid)
            launched = time.perf_counter()
            await campaigns.launch(store, principal, made["sid"])
            samples, fanned_out, delivered_at, settled, delivered = [], None, None, 0, 0
            while True:
                await asyncio.sleep(1)
                samples.append(rss_mb(worker.pid))
                written, waiting = await message_counts(store, made["sid"])
                if fanned_out is None and written >= seen["eligible"]:
                    fanned_out = time.perf_counter() - launched
                    print(f"  fanned out in {fanned_out:.1f} s", flush=True)
                    if args.no_deliver:
                        break
                # Done when nothing waits and no receipt came for five seconds.
                if fanned_out is not None and waiting == 0:
                    now_delivered, started_at, last = await delivery_times(store, made["sid"])
                    settled = settled + 1 if now_delivered == delivered else 0
                    delivered = now_delivered
                    if settled >= 5:
                        delivered_at = (last - started_at).total_seconds()
                        break
                if worker.poll() is not None:
                    raise SystemExit("the worker died; see the log")
            peak = peak_rss_mb(worker.pid)
        finally:
            for child in reversed(children):  # py-spy first: SIGINT makes it write its file
                child.send_signal(signal.SIGINT if child.args[0] == "py-spy" else signal.SIGTERM)
                child.wait(30)
            await store.db.close()
            await drop_database(scratch)
    assert fanned_out is not None
    print(f"{args.db}, {n:,} contacts")
    print(f"  import              {imported:8.1f} s  {n / imported:10,.0f} contacts/s")
    print(f"  segment count       {count_seconds:8.2f} s  ({counted.count:,} contacts)")
    print(
        f"  preview             {preview_seconds:8.1f} s  {n / preview_seconds:10,.0f} recipients/s"
        f"  (eligible {seen['eligible']:,}, cost {seen['estimated_cost']['total']})"
    )
    print(
        f"  fan-out             {fanned_out:8.1f} s  {seen['eligible'] / fanned_out:10,.0f} "
        "messages queued/s"
    )
    if delivered_at is not None:
        print(
            f"  last delivery       {delivered_at:8.1f} s  {delivered / delivered_at:10,.0f}"
            f" delivered/s ({delivered:,}; the simulator refuses numbers ending 9999)"
        )
    print(
        f"  worker RSS          {baseline:.0f} MB before, {max(samples):.0f} MB max while "
        f"fanning out, {samples[-1]:.0f} MB at the end (peak {peak:.0f} MB)"
    )


if __name__ == "__main__":
    asyncio.run(main())
