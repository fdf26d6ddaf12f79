"""Short-link clicks: how many taps a second `smsvia serve` redirects and records.

Run: python benchmarks/clicks.py [--links 10000] [--clicks 20000] [--connections 50]
     [--db postgresql|sqlite]

N messages with a shortened link are written (ShortenUrls, as the API writes them), then
`smsvia serve --no-worker` answers wrk, which taps the links round-robin over C keep-alive
connections. Every answered tap must be a recorded click: the table says how many were.
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
from pathlib import Path

from _load import wrk
from _support import SMSVIA, drop_database, free_port, new_database
from sqlalchemy import func, select

from e2e import wait_http
from smsvia.config import Settings
from smsvia.runtime import open_store
from smsvia.services import accounts, senders
from smsvia.services.accounts import acting_for
from smsvia.services.messages import SendRequest, send_messages
from smsvia.services.quote import load_price_book
from smsvia.store.schema import upgrade
from smsvia.store.tracking_models import Click, ShortLink

SENDER = "+15005550006"
BATCH = 1000
TAPS = """
local codes = {%(codes)s}
local i = 0
request = function()
  i = i %% #codes + 1
  return wrk.format("GET", "/l/" .. codes[i], {["User-Agent"] = "Mozilla/5.0 (iPhone)"})
end
"""


async def write_links(store, account_sid: str, n: int) -> list[str]:
    principal = await acting_for(store, account_sid)
    book = load_price_book()
    for start in range(0, n, BATCH):
        requests = [
            SendRequest(
                to=f"+1212{5550000 + i:07d}",
                sender=SENDER,
                body=f"Your order {i} has shipped: https://shop.example/track/{i}",
                shorten_urls=True,
            )
            for i in range(start, min(n, start + BATCH))
        ]
        await send_messages(
            store, principal, requests, price_book=book, public_url="http://127.0.0.1:8080"
        )
    async with store.db.sessions() as session:
        return list(await session.scalars(select(ShortLink.code)))


async def clicks_recorded(store) -> int:
    async with store.db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Click)) or 0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--clicks", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--db", default="postgresql", choices=["postgresql", "sqlite"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        url, scratch = await new_database(args.db, work / "bench.db")
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        store = open_store(Settings(data_dir=work, database_url=url, master_key=key))
        server = None
        try:
            await upgrade(store.db)
            shop = await accounts.create_account(store, "bench")
            connector = senders.SmppSettings("127.0.0.1", free_port(), "smsvia")
            await senders.add_smpp_connector(store, "bench", connector, "secret")
            await senders.add_number(store, shop.sid, SENDER, connector="bench")
            codes = await write_links(store, shop.sid, args.links)
            port = free_port()
            env = {
                **os.environ,
                "SMSVIA_DATABASE_URL": url,
                "SMSVIA_MASTER_KEY": key,
                "SMSVIA_DATA_DIR": str(work),
                "SMSVIA_LOG_LEVEL": "warning",
            }
            logs = (work / "serve.log").open("wb")
            server = subprocess.Popen(
                [SMSVIA, "serve", "--no-worker", "--port", str(port)],
                env=env,
                stdout=logs,
                stderr=logs,
            )
            base = f"http://127.0.0.1:{port}"
            await wait_http(f"{base}/healthz", server)
            script = TAPS % {"codes": ",".join(f'"{c}"' for c in codes)}
            load = await wrk(f"{base}/l/x", script, args.clicks, args.connections, work)
            await asyncio.sleep(1)
            recorded = await clicks_recorded(store)
        finally:
            if server is not None:
                server.send_signal(signal.SIGTERM)
                server.wait(30)
            await store.db.close()
            await drop_database(scratch)
    print(
        f"{args.db}: {load.requests:,} taps in {load.seconds:.1f} s = "
        f"{load.requests / load.seconds:,.0f} redirects/s, p50 {load.p50 * 1000:.1f} ms, "
        f"p99 {load.p99 * 1000:.1f} ms, errors {load.errors}; "
        f"{recorded:,} clicks recorded over {len(codes):,} links"
    )


if __name__ == "__main__":
    asyncio.run(main())
