"""End to end: messages in through the API (or queued in bulk), out over SMPP to the SMSC
simulator, receipts back, on SQLite and PostgreSQL.

Separate processes, as in production: `smsvia serve` (API and worker in one process on
SQLite; `serve --no-worker` plus `smsvia worker` on PostgreSQL), `smsvia sim smsc`, and this
script as the client. Figures: accepted/s (API answers), submitted/s (all messages `sent`),
DLR-complete/s (all `delivered`), p50/p99 accept latency, the server's peak RSS, and the CPU
time each smsvia process spent per message (steadier than rates on a shared machine), beside
that of everything else on the same cores: the simulator, this client and PostgreSQL.

Run: python benchmarks/e2e.py [--messages N] [--seconds S] [--concurrency C]
                              [--db sqlite,postgresql]
                              [--path api,bulk,rcs] [--profile DIR]
The API path is driven by wrk (Debian package `wrk`) for S seconds when it is installed, else by
an httpx client for N messages. The bulk path queues N messages in chunks of 500. The rcs
path queues them in bulk from a sender with an RCS connector (`smsvia sim rcs` in front of
the SMSC): half the recipients take RCS, half fall back to SMS.
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
import socket
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from _support import SMSVIA, drop_database, new_database, peak_rss_mb
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from smsvia.config import Settings
from smsvia.runtime import open_store
from smsvia.services import accounts, senders
from smsvia.services.messages import SendRequest, send_messages
from smsvia.services.quote import load_price_book
from smsvia.store.models import Message, MessageEvent
from smsvia.store.schema import upgrade

SENDER = "+15005550006"
BULK_CHUNK = 500
RBM_TOKEN = "bench-client-token"


@dataclass
class Result:
    db: str
    path: str
    messages: int
    accept_seconds: float
    sent_seconds: float
    delivered_seconds: float
    p50: float
    p99: float
    peak_rss_mb: float
    errors: int
    cpu_seconds: dict[str, float]  # CPU time each smsvia process used, by role
    # CPU time the rest of the machine's work took: the SMSC simulator, this script (the
    # bulk path's intake runs here) and every PostgreSQL process.
    other_cpu_seconds: dict[str, float]
    # rcs path, per fallback: (created -> SMS submitted, fallback decision -> SMS submitted)
    fallback_seconds: list[tuple[float, float]]


def recipient(i: int) -> str:
    """Numbers 0..N: even last digit RCS-capable, odd not (the RBM simulator's rule); the
    simulators' special endings are stepped over: 55 (error) and 77 (offline) for RBM, 9997
    to 9999 (no receipt, refused, undelivered) for the SMSC, which a run of 10,000 or more
    would otherwise reach and then never see all its receipts."""
    number = 7_000_000 + i + 2 * (i // 50)
    while number % 100 in (55, 77) or number % 10_000 >= 9_997:
        number += 2
    return f"+1415{number:07d}"


async def fallback_latencies(store) -> list[tuple[float, float]]:
    """For each message that fell back: seconds from its creation to its SMS submit, and
    from the fallback decision (the capability answer) to the SMS submit."""
    async with store.db.sessions() as session:
        rows = await session.execute(
            select(Message.id, Message.date_created, MessageEvent.event, MessageEvent.at)
            .join(MessageEvent, MessageEvent.message_id == Message.id)
            .where(Message.fallback_reason.is_not(None))
            .order_by(MessageEvent.id)
        )
        timelines: dict[int, tuple[object, dict[str, object]]] = {}
        for message_id, created, event, at in rows:
            timelines.setdefault(message_id, (created, {}))[1][event] = at
    return [
        ((ev["sent"] - created).total_seconds(), (ev["sent"] - ev["capability"]).total_seconds())
        for created, ev in timelines.values()
        if "sent" in ev and "capability" in ev
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every process named postgres (the server and its backends) so far; a
    backend that ends takes its time with it, so this slightly undercounts."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text.split("(", 1)[1].startswith("postgres)"):
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def others_cpu(smsc: subprocess.Popen) -> dict[str, float]:
    return {
        "sim": cpu_seconds(smsc.pid),
        "client": cpu_seconds(os.getpid()),
        "postgres": postgres_cpu_seconds(),
    }


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


async def counts(store) -> dict[str, int]:
    async with store.db.sessions() as session:
        rows = await session.execute(select(Message.status, func.count()).group_by(Message.status))
        return dict(rows.all())


async def run_one(
    db: str,
    path: str,
    n: int,
    concurrency: int,
    workdir: Path,
    api_seconds: float,
    profile_dir: Path | None = None,
) -> Result:
    url, scratch = await new_database(db, workdir / f"bench-{path}.db")
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    settings = Settings(data_dir=workdir, database_url=url, master_key=key)
    store = open_store(settings)
    await upgrade(store.db)
    shop = await accounts.create_account(store, "bench")
    smsc_port, api_port = free_port(), free_port()
    connector = senders.SmppSettings("127.0.0.1", smsc_port, "smsvia", tps=10_000, window=100)
    await senders.add_smpp_connector(store, "bench", connector, "secret")
    rbm_port = free_port()
    if path == "rcs":
        rbm = senders.RcsSettings(f"http://127.0.0.1:{rbm_port}", "bench-agent")
        await senders.add_rcs_connector(store, "bench-rbm", rbm, RBM_TOKEN)
    rcs_connector = "bench-rbm" if path == "rcs" else None
    await senders.add_number(
        store, shop.sid, SENDER, connector="bench", rcs_connector=rcs_connector
    )

    env = {
        **os.environ,
        "SMSVIA_DATABASE_URL": url,
        "SMSVIA_MASTER_KEY": key,
        "SMSVIA_DATA_DIR": str(workdir),
        "SMSVIA_LOG_LEVEL": "warning",
        "SMSVIA_WORKER_POLL_INTERVAL": "0.2",
    }
    logs = (workdir / f"{db}-{path}.log").open("wb")
    smsc = subprocess.Popen(
        [SMSVIA, "sim", "smsc", "--port", str(smsc_port), "--dlr-delay", "0.05"],
        env=env,
        stdout=logs,
        stderr=logs,
    )
    simulators = [smsc]
    if path == "rcs":
        webhook = f"http://127.0.0.1:{api_port}/rcs/bench-rbm/events"
        rbm_sim = [SMSVIA, "sim", "rcs", "--port", str(rbm_port), "--webhook", webhook]
        rbm_sim += ["--client-token", RBM_TOKEN, "--read-after", "600"]
        simulators.append(subprocess.Popen(rbm_sim, env=env, stdout=logs, stderr=logs))
    # SQLite: one process, the worker inside it (one writer). PostgreSQL: the API and a
    # worker process side by side, as it is deployed to scale.
    serve = [SMSVIA, "serve", "--port", str(api_port)]
    servers = [
        subprocess.Popen(
            serve + (["--no-worker"] if db == "postgresql" else []),
            env=env,
            stdout=logs,
            stderr=logs,
        )
    ]
    if db == "postgresql":
        servers.append(subprocess.Popen([SMSVIA, "worker"], env=env, stdout=logs, stderr=logs))
    server = servers[0]
    base_url = f"http://127.0.0.1:{api_port}"
    try:
        await wait_http(f"{base_url}/healthz", server)
        roles = dict(zip(["serve", "worker"], servers, strict=False))
        idle = {role: cpu_seconds(p.pid) for role, p in roles.items()}
        others_before = others_cpu(smsc)
        profilers = (
            [
                subprocess.Popen(
                    [
                        "py-spy",
                        "record",
                        "--pid",
                        str(p.pid),
                        "--format",
                        "raw",
                        "--nonblocking",
                        "--output",
                        str(profile_dir / f"{db}-{path}-{role}.txt"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for role, p in roles.items()
            ]
            if profile_dir
            else []
        )
        latencies: list[float] = []
        errors = 0
        p50 = p99 = float("nan")
        started = time.perf_counter()
        if path == "api" and shutil.which("wrk"):
            errors, accepted, p50, p99 = await through_wrk(
                base_url, shop, api_seconds, concurrency, workdir
            )
            n = sum((await counts(store)).values())
        elif path == "api":
            errors = await through_api(base_url, shop, n, concurrency, latencies)
        else:
            book = load_price_book()
            principal = await accounts.Authenticator(store).authenticate(shop.sid, shop.secret)
            for first in range(0, n, BULK_CHUNK):
                chunk = [
                    SendRequest(to=recipient(i), sender=SENDER, body=f"Sale {i}")
                    for i in range(first, min(first + BULK_CHUNK, n))
                ]
                t = time.perf_counter()
                results = await send_messages(store, principal, chunk, price_book=book)
                latencies.extend([time.perf_counter() - t] * len(chunk))
                errors += sum(not isinstance(r, str) for r in results)
        if latencies:
            accepted = time.perf_counter() - started
            p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        sent_at = delivered_at = None
        deadline = time.monotonic() + 600
        while delivered_at is None and time.monotonic() < deadline:
            now = await counts(store)
            elapsed = time.perf_counter() - started
            done = now.get("sent", 0) + now.get("delivered", 0)
            if sent_at is None and done >= n - errors:
                sent_at = elapsed
            if now.get("delivered", 0) >= n - errors:
                delivered_at = elapsed
            await asyncio.sleep(0.1)
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
        fallback = await fallback_latencies(store) if path == "rcs" else []
        used = {role: cpu_seconds(p.pid) - idle[role] for role, p in roles.items()}
        others = {name: t - others_before[name] for name, t in others_cpu(smsc).items()}
        if db != "postgresql":
            del others["postgres"]
        return Result(
            db,
            path,
            n,
            accepted,
            sent_at or float("nan"),
            delivered_at or float("nan"),
            p50,
            p99,
            sum(peak_rss_mb(process.pid) for process in servers),
            errors,
            used,
            others,
            fallback,
        )
    finally:
        for process in (*servers, *simulators):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        logs.close()
        await store.db.close()
        await drop_database(scratch)


def per_message(seconds: dict[str, float], messages: int) -> str:
    return " + ".join(f"{name} {1000 * t / messages:.2f}" for name, t in seconds.items())


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic %(auth)s"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, string.format(
    "To=%%%%2B1415%%07d&From=%%%%2B15005550006&Body=Order+%%d", 7000000 + counter, counter))
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%f %%f %%f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1e6, latency:percentile(99) / 1e6))
end
"""


async def through_wrk(base_url, shop, seconds: float, concurrency: int, workdir: Path):
    """The API path driven by wrk (C, one thread) for `seconds`: the client takes far less
    of the machine's two cores than a Python client would. Returns (errors, seconds, p50,
    p99)."""
    auth = base64.b64encode(f"{shop.sid}:{shop.secret}".encode()).decode()
    script = workdir / "post.lua"
    script.write_text(WRK_SCRIPT % {"auth": auth})
    url = f"{base_url}/2010-04-01/Accounts/{shop.sid}/Messages.json"
    process = await asyncio.create_subprocess_exec(
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{seconds:g}s",
        "-s",
        str(script),
        url,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    line = next(x for x in out.decode().splitlines() if x.startswith("RESULT "))
    _requests, errors, seconds, p50, p99 = line.split()[1:]
    return int(errors), float(seconds), float(p50), float(p99)


async def through_api(base_url, shop, n: int, concurrency: int, latencies: list[float]) -> int:
    url = f"{base_url}/2010-04-01/Accounts/{shop.sid}/Messages.json"
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(auth=(shop.sid, shop.secret), limits=limits, timeout=60) as c:

        async def client() -> None:
            nonlocal errors
            while not queue.empty():
                i = queue.get_nowait()
                data = {"To": f"+1415{7000000 + i:07d}", "From": SENDER, "Body": f"Order {i}"}
                t = time.perf_counter()
                response = await c.post(url, data=data)
                latencies.append(time.perf_counter() - t)
                errors += response.status_code != 201

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return errors


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--seconds", type=float, default=10, help="API path with wrk: how long to send"
    )
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--path", default="api,bulk")
    parser.add_argument(
        "--profile",
        type=Path,
        help="write py-spy collapsed stacks of each smsvia process into this directory",
    )
    parser.add_argument("--logs", type=Path, help="copy each run's smsvia logs into this directory")
    args = parser.parse_args()
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    console = Console(width=200)
    table = Table(
        "db",
        "path",
        "messages",
        "accepted/s",
        "submitted/s",
        "DLR-complete/s",
        "accept p50 ms",
        "accept p99 ms",
        "smsvia peak RSS MB",
        "smsvia CPU ms/msg",
        "others' CPU ms/msg",
        "errors",
        title=f"smsvia end to end, concurrency {args.concurrency}",
    )
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as workdir:
        for db in args.db.split(","):
            for path in args.path.split(","):
                console.print(f"running {db} / {path} with {args.messages} messages…")
                r = await run_one(
                    db,
                    path,
                    args.messages,
                    args.concurrency,
                    Path(workdir),
                    args.seconds,
                    args.profile,
                )
                results.append(r)
                table.add_row(
                    r.db,
                    r.path,
                    str(r.messages),
                    f"{r.messages / r.accept_seconds:,.0f}",
                    f"{r.messages / r.sent_seconds:,.0f}",
                    f"{r.messages / r.delivered_seconds:,.0f}",
                    f"{r.p50 * 1000:.1f}",
                    f"{r.p99 * 1000:.1f}",
                    f"{r.peak_rss_mb:.0f}",
                    per_message(r.cpu_seconds, r.messages),
                    per_message(r.other_cpu_seconds, r.messages),
                    str(r.errors),
                )
        if args.logs:
            for log_file in Path(workdir).glob("*.log"):
                shutil.copy(log_file, args.logs / log_file.name)
    console.print(table)
    for r in results:
        if r.path == "rcs" and r.fallback_seconds:
            whole = [total for total, _ in r.fallback_seconds]
            own = [decided for _, decided in r.fallback_seconds]
            console.print(
                f"{r.db} rcs: {r.messages - len(whole)} delivered by RCS, {len(whole)} fell back "
                f"to SMS. Created -> SMS submitted (queueing included): p50 "
                f"{percentile(whole, 50):.1f} s, p99 {percentile(whole, 99):.1f} s; fallback "
                f"decision -> SMS submitted: p50 {percentile(own, 50) * 1000:.0f} ms, p99 "
                f"{percentile(own, 99) * 1000:.0f} ms",
                highlight=False,
            )


if __name__ == "__main__":
    asyncio.run(main())
