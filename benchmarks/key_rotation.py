"""Master key rotation: how fast `smsvia keys rotate-master` re-keys a shop's data.

Run: python benchmarks/key_rotation.py [--contacts 20000] [--messages 20000]
     [--db postgresql|sqlite] [--batch 500]

N contacts with consent are imported (each with a ledger entry), M messages queued to them,
all under one master key; then the command runs with the ring "new,old" as an operator would
run it, and the rows it re-keyed per second are printed, with a second run's time (nothing
left to do: what a resumed run costs to find that out).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

from _support import SMSVIA, drop_database, new_database

from smsvia.config import Settings
from smsvia.runtime import open_store
from smsvia.services import accounts, senders
from smsvia.services.accounts import acting_for
from smsvia.services.messages import SendRequest, send_messages
from smsvia.services.quote import load_price_book
from smsvia.store.schema import upgrade

SENDER = "+15005550006"


def number(i: int) -> str:
    return f"+1212{2000000 + i:07d}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--db", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        url, scratch = await new_database(args.db, work / "bench.db")
        old = base64.b64encode(secrets.token_bytes(32)).decode()
        new = base64.b64encode(secrets.token_bytes(32)).decode()
        store = open_store(Settings(data_dir=work, database_url=url, master_key=old))
        try:
            await upgrade(store.db)
            shop = await accounts.create_account(store, "bench")
            smpp = senders.SmppSettings("127.0.0.1", 9, "smsvia")
            await senders.add_smpp_connector(store, "bench", smpp, "secret")
            await senders.add_number(store, shop.sid, SENDER, connector="bench")
            env = {
                **os.environ,
                "SMSVIA_DATABASE_URL": url,
                "SMSVIA_MASTER_KEY": old,
                "SMSVIA_DATA_DIR": str(work),
                "SMSVIA_LOG_LEVEL": "warning",
            }
            path = work / "contacts.csv"
            with path.open("w") as out:
                out.write("phone,first_name,email,consent,consent_date,size\n")
                for i in range(args.contacts):
                    out.write(f"{number(i)},Ana{i},ana{i}@example.com,yes,2026-10-01,M\n")
            subprocess.run(
                [SMSVIA, "contacts", "import", str(path), "--account", shop.sid],
                env=env,
                check=True,
                capture_output=True,
            )
            principal = await acting_for(store, shop.sid)
            book = load_price_book()
            for start in range(0, args.messages, 1000):
                requests = [
                    SendRequest(number(i % max(args.contacts, 1)), SENDER, f"Order {i} shipped")
                    for i in range(start, min(start + 1000, args.messages))
                ]
                await send_messages(store, principal, requests, price_book=book)
            print(f"  seeded {args.contacts:,} contacts and {args.messages:,} messages", flush=True)
            ring = {**env, "SMSVIA_MASTER_KEY": f"{new},{old}"}
            command = [SMSVIA, "keys", "rotate-master", "--json", "--batch", str(args.batch)]
            runs = []
            for _ in range(2):
                started = time.perf_counter()
                done = subprocess.run(command, env=ring, check=True, capture_output=True, text=True)
                runs.append((time.perf_counter() - started, json.loads(done.stdout)))
        finally:
            await store.db.close()
            await drop_database(scratch)
    (first, report), (second, _) = runs
    rows = sum(table["rewritten"] for table in report["tables"].values())
    print("| database | rows re-keyed | seconds | rows/s | second run (nothing left) |")
    print("|---|---|---|---|---|")
    print(f"| {args.db} | {rows:,} | {first:.1f} | {rows / first:,.0f} | {second:.1f} s |")
    for name, table in report["tables"].items():
        if table["rewritten"]:
            print(f"  {name}: {table['rewritten']:,}")


if __name__ == "__main__":
    asyncio.run(main())
