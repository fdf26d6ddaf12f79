"""End to end: messages in through the API (or queued in bulk), out over SMPP to the SMSC
simulator, receipts back, delivered callbacks out to a shop's endpoint; on SQLite and
PostgreSQL, and beside the best peer in the same run (`--peer kannel`).

Separate processes, as in production: `smsvia serve` (API and worker in one process on
SQLite; `serve --no-worker` plus `smsvia worker` on PostgreSQL, and on SQLite with
`--db sqlite+worker`), `smsvia sim smsc`, the
callback receiver (benchmarks/callback_receiver.py) and wrk as the client. Figures:
accepted/s (API answers), submitted/s (every message out), DLR-complete/s (every receipt
applied), delivered callbacks/s (every `delivered` callback answered by the receiver), the
share of receipts called back, p50/p99 accept latency, peak RSS, and the CPU time each
gateway process spent per message, beside that of everything else on the same cores (the
simulator, the client, the receiver, PostgreSQL, Redis).

Run: python benchmarks/e2e.py [--messages N] [--concurrency C]
                              [--db sqlite,sqlite+worker,postgresql]
                              [--path api,bulk,rcs] [--peer kannel] [--rounds R]
                              [--profile DIR]
The API path is driven by wrk (Debian package `wrk`): N requests over C keep-alive
connections, each with a StatusCallback. The bulk path queues N messages in chunks of 500 (with
the same callback). The rcs path queues them in bulk from a sender with an RCS connector
(`smsvia sim rcs` in front of the SMSC): half the recipients take RCS, half fall back to SMS.
`--peer kannel` runs Debian's Kannel (benchmarks/kannel.py) with the same load against the
same simulator. `--rounds R` measures everything R times, Kannel first every other round, and
prints each smsvia run's share of Kannel's rate in its own round and the median share: the
machine's speed drifts between runs, and one round's ratio can be 10 to 20 points off.
PostgreSQL: a scratch database is created on SMSVIA_TEST_POSTGRES (default
postgresql://postgres@127.0.0.1:5432/test) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from _history import add_history
from _load import Receiver, wrk
from _report import Run, fallback_lines, results_table, shares_of_peer
from _run import WAIT_LIMIT, Result, others_cpu, start_smsc, stop_all
from _support import (
    BIN,
    SMSVIA,
    cpu_seconds,
    drop_database,
    free_port,
    new_database,
    peak_rss_mb,
    percentile,
)
from _watch import counts, fallback_latencies, print_trace, settled_count
from rich.console import Console

from smsvia.config import Settings
from smsvia.runtime import open_store
from smsvia.services import accounts, senders
from smsvia.services.messages import SendRequest, send_messages
from smsvia.services.quote import load_price_book
from smsvia.store.schema import upgrade

SENDER = "+15005550006"
BULK_CHUNK = 500
RBM_TOKEN = "bench-client-token"


def recipient(i: int) -> str:
    """Numbers 0..N: even last digit RCS-capable, odd not (the RBM simulator's rule); the
    simulators' special endings are stepped over: 55 (error) and 77 (offline) for RBM, 9997
    to 9999 (no receipt, refused, undelivered) for the SMSC."""
    number = 7_000_000 + i + 2 * (i // 50)
    while number % 100 in (55, 77) or number % 10_000 >= 9_997:
        number += 2
    return f"+1415{number:07d}"


# The wrk request for smsvia's Twilio API. Recipients' last four digits stay under 9000, so
# the simulator's special endings never come up (the same in kannel.WRK_SCRIPT).
SMSVIA_WRK = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic %(auth)s"
counter = 0
request = function()
  counter = counter + 1
  local n = 7000000 + (counter %% 9000) + 10000 * math.floor(counter / 9000)
  return wrk.format(nil, nil, nil, string.format(
    "To=%%%%2B1415%%07d&From=%%%%2B15005550006&Body=Order+%%d&StatusCallback=%(callback)s",
    n, counter))
end
"""


async def wait_http(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.1)


def py_spy() -> str:
    """py-spy beside this interpreter, else on PATH."""
    found = shutil.which("py-spy", path=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    if found is None:
        raise SystemExit("--profile needs py-spy: pip install py-spy")
    return found


def profile(roles: dict[str, subprocess.Popen], directory: Path | None, name: str):
    if directory is None:
        return []
    spy = py_spy()
    return [
        subprocess.Popen(
            [
                *(spy, "record", "--pid", str(p.pid), "--format", "raw", "--nonblocking"),
                # Only the thread holding the GIL: idle native threads (aiosqlite's, the
                # SMPP library's) would otherwise count as busy.
                *("--gil", "--rate", "250"),
                *("--output", str(directory / f"{name}-{role}.txt")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for role, p in roles.items()
    ]


async def run_smsvia(
    db: str,
    path: str,
    n: int,
    concurrency: int,
    workdir: Path,
    profile_dir: Path | None,
    name: str,
    trace: bool = False,
    history: int = 0,
) -> Result:
    engine, _, layout = db.partition("+")
    # The worker in a process of its own: always on PostgreSQL, on SQLite when asked.
    worker_alone = engine == "postgresql" or layout == "worker"
    url, scratch = await new_database(engine, workdir / f"bench-{name}.db")
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    store = open_store(Settings(data_dir=workdir, database_url=url, master_key=key))
    smsc_port, api_port, rbm_port = free_port(), free_port(), free_port()
    try:
        await upgrade(store.db)
        shop = await accounts.create_account(store, "bench")
        connector = senders.SmppSettings("127.0.0.1", smsc_port, "smsvia", tps=10_000, window=100)
        await senders.add_smpp_connector(store, "bench", connector, "secret")
        if path == "rcs":
            rbm = senders.RcsSettings(f"http://127.0.0.1:{rbm_port}", "bench-agent")
            await senders.add_rcs_connector(store, "bench-rbm", rbm, RBM_TOKEN)
        rcs_connector = "bench-rbm" if path == "rcs" else None
        await senders.add_number(
            store, shop.sid, SENDER, connector="bench", rcs_connector=rcs_connector
        )
        since = await add_history(store, shop.sid, "bench", history, recipient)
    except BaseException:
        # An open SQLite connection's thread would keep the process from exiting.
        await store.db.close()
        await drop_database(scratch)
        raise

    env = {
        **os.environ,
        "SMSVIA_DATABASE_URL": url,
        "SMSVIA_MASTER_KEY": key,
        "SMSVIA_DATA_DIR": str(workdir),
        "SMSVIA_LOG_LEVEL": "warning",
        "SMSVIA_WORKER_POLL_INTERVAL": "0.2",
        "SMSVIA_ALLOW_PRIVATE_URLS": "1",
    }
    logs = (workdir / f"smsvia-{name}.log").open("wb")
    receiver = Receiver(free_port(), workdir / f"receiver-{name}.log")
    smsc = start_smsc(smsc_port, env, logs)
    simulators, rbm = [smsc], None
    if path == "rcs":
        webhook = f"http://127.0.0.1:{api_port}/rcs/bench-rbm/events"
        rbm_sim = [SMSVIA, "sim", "rcs", "--port", str(rbm_port), "--webhook", webhook]
        rbm_sim += ["--client-token", RBM_TOKEN, "--read-after", "600"]
        rbm = subprocess.Popen(rbm_sim, env=env, stdout=logs, stderr=logs)
        simulators.append(rbm)
    # SQLite: one process, the worker inside it, or (sqlite+worker) the worker in a process
    # of its own. PostgreSQL: the API and a worker process side by side, as it is deployed
    # to scale.
    serve = [SMSVIA, "serve", "--port", str(api_port)]
    if worker_alone:
        serve.append("--no-worker")
    servers = [subprocess.Popen(serve, env=env, stdout=logs, stderr=logs)]
    if worker_alone:
        servers.append(subprocess.Popen([SMSVIA, "worker"], env=env, stdout=logs, stderr=logs))
    base_url = f"http://127.0.0.1:{api_port}"
    callback = f"{receiver.url}/smsvia"
    try:
        await wait_http(f"{base_url}/healthz", servers[0])
        await receiver.wait_up()
        roles = dict(zip(["serve", "worker"], servers, strict=False))
        idle = {role: cpu_seconds(p.pid) for role, p in roles.items()}
        others_before = others_cpu(smsc, receiver, rbm)
        profilers = profile(roles, profile_dir, f"smsvia-{name}")
        latencies: list[float] = []
        errors = 0
        p50 = p99 = float("nan")
        started, started_wall = time.perf_counter(), time.time()
        if path == "api":
            if not shutil.which("wrk"):
                raise SystemExit("the API path is driven by wrk: apt-get install wrk")
            auth = base64.b64encode(f"{shop.sid}:{shop.secret}".encode()).decode()
            script = SMSVIA_WRK % {"auth": auth, "callback": callback.replace(":", "%%3A")}
            messages_url = f"{base_url}/2010-04-01/Accounts/{shop.sid}/Messages.json"
            load = await wrk(messages_url, script, n, concurrency, workdir)
            accepted, errors, p50, p99 = load.seconds, load.errors, load.p50, load.p99
            n = await settled_count(store, since)
        else:
            book = load_price_book()
            principal = await accounts.Authenticator(store).authenticate(shop.sid, shop.secret)
            for first in range(0, n, BULK_CHUNK):
                chunk = [
                    SendRequest(
                        to=recipient(i), sender=SENDER, body=f"Sale {i}", status_callback=callback
                    )
                    for i in range(first, min(first + BULK_CHUNK, n))
                ]
                t = time.perf_counter()
                results = await send_messages(store, principal, chunk, price_book=book)
                latencies.extend([time.perf_counter() - t] * len(chunk))
                errors += sum(not isinstance(r, str) for r in results)
            accepted = time.perf_counter() - started
            p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        sent_at = receipts_at = callbacks_at = None
        called_back = 0
        traced_at = 0.0
        deadline = time.monotonic() + WAIT_LIMIT
        while callbacks_at is None and time.monotonic() < deadline:
            now = await counts(store, since)
            elapsed = time.perf_counter() - started
            if sent_at is None and now.get("sent", 0) + now.get("delivered", 0) >= n:
                sent_at = elapsed
            if receipts_at is None and now.get("delivered", 0) >= n:
                receipts_at = elapsed
            heard, last_delivered = await receiver.stats()
            called_back = heard.get("smsvia:delivered", 0)
            if trace and elapsed >= traced_at + 1:
                traced_at = elapsed
                await print_trace(store, elapsed, now, heard, since)
            if called_back >= n:
                callbacks_at = last_delivered - started_wall
            await asyncio.sleep(0.1)
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
        fallback = await fallback_latencies(store) if path == "rcs" else []
        used = {role: cpu_seconds(p.pid) - idle[role] for role, p in roles.items()}
        others = {k: t - others_before[k] for k, t in others_cpu(smsc, receiver, rbm).items()}
        if engine != "postgresql":
            del others["postgres"]
        del others["redis"]
        return Result(
            "smsvia",
            db,
            path,
            n,
            accepted,
            sent_at or float("nan"),
            receipts_at or float("nan"),
            callbacks_at or float("nan"),
            called_back,
            p50,
            p99,
            sum(peak_rss_mb(process.pid) for process in servers),
            errors,
            used,
            others,
            fallback,
        )
    finally:
        stop_all((*servers, *simulators))
        await receiver.stop()
        logs.close()
        await store.db.close()
        await drop_database(scratch)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--path", default="api,bulk")
    parser.add_argument("--peer", choices=["kannel"], help="measure this peer in the same run")
    parser.add_argument(
        "--profile", type=Path, help="write py-spy raw stacks of each smsvia process here"
    )
    parser.add_argument(
        "--history", type=int, default=0, help="finished messages in smsvia's database first"
    )
    parser.add_argument("--logs", type=Path, help="copy each run's logs into this directory")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure everything this many times, the peer first every other round",
    )
    parser.add_argument(
        "--trace", action="store_true", help="print where smsvia's messages are, every second"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    if args.profile:
        py_spy()  # before any run, rather than after the peer's
    for directory in (args.logs, args.profile):
        if directory:
            directory.mkdir(parents=True, exist_ok=True)
    console = Console(width=220)
    title = f"end to end, {args.concurrency} connections, one SMPP bind (window 100)"
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as workdir:
        for number in range(1, args.rounds + 1):
            # Every other round the peer goes first, so that a machine slowing down or
            # warming up over the rounds favours neither.
            peer_first = args.peer is not None and number % 2 == 0
            if peer_first:
                runs.append((number, await run_peer(args, Path(workdir), number, console)))
            for db, path in [(d, p) for d in args.db.split(",") for p in args.path.split(",")]:
                console.print(f"smsvia: {db} / {path}, {args.messages} messages…")
                name = f"{db}-{path}" + (f"-round{number}" if args.rounds > 1 else "")
                result = await run_smsvia(
                    db,
                    path,
                    args.messages,
                    args.concurrency,
                    Path(workdir),
                    args.profile,
                    name,
                    args.trace,
                    args.history,
                )
                runs.append((number, result))
            if args.peer is not None and not peer_first:
                runs.append((number, await run_peer(args, Path(workdir), number, console)))
        if args.logs:
            for log_file in Path(workdir).rglob("*.log"):
                # Kannel's logs are named alike every round: their directory tells them apart.
                name = "-".join(log_file.relative_to(workdir).parts)
                shutil.copy(log_file, args.logs / name)
    console.print(results_table(runs, title))
    for line in [*fallback_lines(runs), *shares_of_peer(runs, "Kannel")]:
        console.print(line, highlight=False)


async def run_peer(
    args: argparse.Namespace, workdir: Path, number: int, console: Console
) -> Result:
    """Kannel's run, in a directory of its own each round (its spool, its logs)."""
    from kannel import run_kannel

    console.print(f"Kannel: {args.messages} messages…")
    own = workdir / f"kannel-round{number}"
    own.mkdir()
    return await run_kannel(args.messages, args.concurrency, own)


if __name__ == "__main__":
    asyncio.run(main())
