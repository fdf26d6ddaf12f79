"""Import a generated CSV of N contacts and report rows/s and the importer's peak RSS.

Run: python benchmarks/contacts_import.py [--rows N] [--db sqlite|postgresql]
The file is written first (1% of rows bad on purpose), then `smsvia contacts import` runs in
a child process; its peak RSS (VmHWM) shows whether memory stays flat as N grows.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

from _support import SMSVIA, drop_database, new_database, peak_rss_mb

from smsvia.config import Settings
from smsvia.runtime import open_store
from smsvia.services import accounts
from smsvia.store.schema import upgrade


def write_csv(path: Path, rows: int) -> None:
    with path.open("w") as out:
        out.write("phone,first_name,last_name,email,tags,consent,consent_date,shoe_size\n")
        for i in range(rows):
            phone = f"+1415{2000000 + i:07d}" if i % 100 else "not a number"
            out.write(f"{phone},First{i},Last{i},c{i}@example.com,vip,yes,2026-01-01,{i % 12}\n")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        url, scratch = await new_database(args.db, work / "bench.db")
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        store = open_store(Settings(data_dir=work, database_url=url, master_key=key))
        await upgrade(store.db)
        shop = await accounts.create_account(store, "bench")
        await store.db.close()
        path = work / "contacts.csv"
        write_csv(path, args.rows)
        env = {
            **os.environ,
            "SMSVIA_DATABASE_URL": url,
            "SMSVIA_MASTER_KEY": key,
            "SMSVIA_DATA_DIR": str(work),
        }
        started = time.perf_counter()
        child = subprocess.Popen(
            [SMSVIA, "contacts", "import", str(path), "--account", shop.sid],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        peak = 0.0
        while child.poll() is None:
            peak = max(peak, peak_rss_mb(child.pid))
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        summary = " ".join(child.stdout.read().split()) if child.stdout else ""
        await drop_database(scratch)
    print(summary)
    print(
        f"{args.db}: {args.rows:,} rows in {seconds:.1f} s = {args.rows / seconds:,.0f} rows/s; "
        f"importer peak RSS {peak:.0f} MB"
    )


if __name__ == "__main__":
    asyncio.run(main())
