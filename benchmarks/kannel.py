"""Kannel (Debian's bearerbox + smsbox) as the peer in `e2e.py --peer kannel`.

Set up as DESIGN.md measures it: durable (queued messages in a spool store, receipts in
Redis), one SMPP transceiver bind with `max-pending-submits = 100`, no rate limit, sendsms with
`dlr-mask=1` and a `dlr-url` per message. Redis is the machine's (127.0.0.1:6379); Kannel's
receipts go in a database number of their own (`REDIS_DB`), emptied before each run.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from _load import Receiver, wrk
from _run import WAIT_LIMIT, Result, others_cpu, start_smsc, stop_all
from _support import cpu_seconds, peak_rss_mb

REDIS_DB = 11
ADMIN_PASSWORD = "bench"
USER, PASSWORD = "bench", "bench"

CONFIG = """
group = core
admin-port = {admin_port}
admin-password = {admin_password}
smsbox-port = {smsbox_port}
log-file = "{workdir}/bearerbox.log"
log-level = 2
store-type = spool
store-location = "{workdir}/spool"
dlr-storage = redis
sms-resend-retry = -1

group = redis-connection
id = dlr
host = 127.0.0.1
port = 6379
database = {redis_db}
max-connections = 4

group = dlr-db
id = dlr
table = dlr
ttl = 604800
field-smsc = smsc
field-timestamp = ts
field-destination = destination
field-source = source
field-service = service
field-url = url
field-mask = mask
field-status = status
field-boxc-id = boxc

group = smsc
smsc = smpp
smsc-id = sim
host = 127.0.0.1
port = {smsc_port}
transceiver-mode = true
smsc-username = smsvia
smsc-password = secret
system-type = ""
max-pending-submits = 100
enquire-link-interval = 30
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
log-file = "{workdir}/smsbox.log"
log-level = 2
max-pending-requests = 10000

group = sendsms-user
username = {user}
password = {password}
max-messages = 10
concatenation = true

group = sms-service
keyword = default
text = ""
"""


@dataclass
class Kannel:
    """bearerbox and smsbox in `workdir`, wired to the SMSC simulator on `smsc_port`."""

    workdir: Path
    smsc_port: int

    def __post_init__(self) -> None:
        self.admin_port, self.smsbox_port, self.sendsms_port = (free_port() for _ in range(3))
        self.processes: list[subprocess.Popen] = []
        self._client = httpx.AsyncClient()  # one for the run: see Receiver.stats

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    async def start(self) -> None:
        if not shutil.which("bearerbox"):
            raise SystemExit("Kannel is not installed: apt-get install kannel")
        flush_redis_db(REDIS_DB)
        (self.workdir / "spool").mkdir(parents=True, exist_ok=True)
        config = self.workdir / "kannel.conf"
        config.write_text(
            CONFIG.format(
                workdir=self.workdir,
                admin_port=self.admin_port,
                admin_password=ADMIN_PASSWORD,
                smsbox_port=self.smsbox_port,
                sendsms_port=self.sendsms_port,
                smsc_port=self.smsc_port,
                redis_db=REDIS_DB,
                user=USER,
                password=PASSWORD,
            )
        )
        log = (self.workdir / "kannel.out").open("wb")
        self.processes.append(
            subprocess.Popen(["bearerbox", "-v", "2", str(config)], stdout=log, stderr=log)
        )
        await wait_port(self.smsbox_port, self.processes[0])
        self.processes.append(
            subprocess.Popen(["smsbox", "-v", "2", str(config)], stdout=log, stderr=log)
        )
        await wait_port(self.sendsms_port, self.processes[1])
        deadline = time.monotonic() + 30
        while (await self.status()).get("online") is not True:
            if time.monotonic() > deadline:
                raise RuntimeError("Kannel did not bind to the SMSC simulator")
            await asyncio.sleep(0.2)

    async def status(self) -> dict[str, object]:
        """From bearerbox's status page: SMS sent so far and whether the bind is online."""
        url = f"http://127.0.0.1:{self.admin_port}/status.txt?password={ADMIN_PASSWORD}"
        text = (await self._client.get(url)).text
        sent = re.search(r"SMS: received \d+ \(\d+ queued\), sent (\d+)", text)
        return {
            "sent": int(sent.group(1)) if sent else 0,
            "online": bool(re.search(r"SMPP:[^\n]*\(online", text)),
        }

    async def stop(self) -> None:
        await self._client.aclose()
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


WRK_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  local n = 7000000 + (counter %% 9000) + 10000 * math.floor(counter / 9000)
  local to = string.format("1415%%07d", n)
  local dlr = "http://127.0.0.1:%(receiver)d/kannel%%3Ftype%%3D%%25d%%26id%%3D" .. counter
  return wrk.format("GET", "/cgi-bin/sendsms?username=%(user)s&password=%(password)s"
    .. "&from=15005550006&to=" .. to .. "&text=Order+" .. counter
    .. "&dlr-mask=1&dlr-url=" .. dlr)
end
"""


def wrk_script(receiver_port: int) -> str:
    return WRK_SCRIPT % {"receiver": receiver_port, "user": USER, "password": PASSWORD}


def flush_redis_db(number: int) -> None:
    """Empty the one Redis database Kannel's receipts use here (RESP by hand: no client)."""
    with socket.create_connection(("127.0.0.1", 6379), timeout=5) as sock:
        sock.sendall(f"*2\r\n$6\r\nSELECT\r\n${len(str(number))}\r\n{number}\r\n".encode())
        sock.sendall(b"*1\r\n$7\r\nFLUSHDB\r\n")
        answers = b""
        while answers.count(b"\r\n") < 2:
            answers += sock.recv(64)
    if answers.count(b"+OK") != 2:
        raise RuntimeError(f"Redis refused to empty database {number}: {answers!r}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {port} (exit {process.poll()})") from None
            await asyncio.sleep(0.1)


async def run_kannel(n: int, concurrency: int, workdir: Path) -> Result:
    """Kannel in front of the same simulator with the same load (see kannel.py)."""
    smsc_port = free_port()
    logs = (workdir / "kannel-sim.log").open("wb")
    receiver = Receiver(free_port(), workdir / "receiver-kannel.log")
    smsc = start_smsc(smsc_port, dict(os.environ), logs)
    kannel = Kannel(workdir / "kannel", smsc_port)
    try:
        await kannel.start()
        await receiver.wait_up()
        roles = dict(zip(["bearerbox", "smsbox"], kannel.processes, strict=True))
        idle = {role: cpu_seconds(p.pid) for role, p in roles.items()}
        others_before = others_cpu(smsc, receiver)
        sent_before = (await kannel.status())["sent"]
        started, started_wall = time.perf_counter(), time.time()
        load = await wrk(kannel.sendsms_url, wrk_script(receiver.port), n, concurrency, workdir)
        # wrk counts what it was answered; a few more were in flight when it stopped. Kannel
        # says nothing of what it accepted, so the count is what it sent once that settles.
        n = load.requests - load.errors
        sent, sent_at, changed = 0, None, time.monotonic()
        callbacks_at = None
        called_back = 0
        deadline = time.monotonic() + WAIT_LIMIT
        while time.monotonic() < deadline:
            now_sent = (await kannel.status())["sent"] - sent_before
            if now_sent != sent:
                sent, sent_at, changed = now_sent, time.perf_counter() - started, time.monotonic()
            heard, last_delivered = await receiver.stats()
            called_back = heard.get("kannel:1", 0)
            if sent >= n and time.monotonic() - changed > 2 and called_back >= sent:
                n = sent
                callbacks_at = last_delivered - started_wall
                break
            await asyncio.sleep(0.1)
        used = {role: cpu_seconds(p.pid) - idle[role] for role, p in roles.items()}
        others = {k: t - others_before[k] for k, t in others_cpu(smsc, receiver).items()}
        del others["postgres"]
        return Result(
            "Kannel 1.4.5",
            "spool+redis",
            "api",
            n,
            load.seconds,
            sent_at or float("nan"),
            float("nan"),
            callbacks_at or float("nan"),
            called_back,
            load.p50,
            load.p99,
            sum(peak_rss_mb(p.pid) for p in kannel.processes),
            load.errors,
            used,
            others,
        )
    finally:
        await kannel.stop()
        stop_all([smsc])
        await receiver.stop()
        logs.close()
