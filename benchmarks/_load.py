"""The load both gateways get: wrk sending N requests over C keep-alive connections, and the
callback receiver that counts what they call back."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).parent

# Stops wrk's thread once N requests have been answered (a few more may be in flight) and
# says so; wrk's main thread sleeps out its duration unless interrupted, so wrk() sends it
# SIGINT on that line, and wrk prints one line with the totals. `%(requests)s` is filled in
# per run.
WRK_STOP = """
local answered = 0
response = function(status, headers, body)
  answered = answered + 1
  if status >= 400 and answered < 20 then
    io.stderr:write("HTTP " .. status .. ": " .. body .. "\\n")
  end
  if answered == %(requests)d then
    io.write("STOPPED\\n")
    io.stdout:flush()
    wrk.thread:stop()
  end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%f %%f %%f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1e6, latency:percentile(99) / 1e6))
end
"""


@dataclass
class WrkRun:
    requests: int
    errors: int
    seconds: float
    p50: float
    p99: float


async def wrk(url: str, script: str, requests: int, connections: int, workdir: Path) -> WrkRun:
    """Send about `requests` requests to `url` as `script` builds them (one wrk thread: C,
    cheap enough never to be what is measured)."""
    path = workdir / f"load-{time.monotonic_ns()}.lua"
    path.write_text(script + WRK_STOP % {"requests": requests})
    command = ["wrk", "-t1", f"-c{connections}", "-d600s", "--timeout", "30s", "-s", str(path)]
    process = await asyncio.create_subprocess_exec(*command, url, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    lines = []
    while line := (await process.stdout.readline()).decode():
        lines.append(line)
        if line.startswith("STOPPED"):
            process.send_signal(signal.SIGINT)
    await process.wait()
    line = next(x for x in lines if x.startswith("RESULT "))
    done, errors, seconds, p50, p99 = line.split()[1:]
    return WrkRun(int(done), int(errors), float(seconds), float(p50), float(p99))


class Receiver:
    """benchmarks/callback_receiver.py in a process of its own."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self._client: httpx.AsyncClient | None = None
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(HERE / "callback_receiver.py"), "--port", str(port)],
                stdout=out,
                stderr=out,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_up(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                await self.stats()
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    async def stats(self) -> tuple[dict[str, int], float]:
        """Callbacks so far by "system:status", and when the last delivered one came.

        Asked ten times a second for the whole run, over one kept connection: a new client
        each time (its TLS context alone) cost the benchmark a quarter of a core."""
        if self._client is None:
            self._client = httpx.AsyncClient()
        answer = (await self._client.get(f"{self.url}/stats")).json()
        return answer["counts"], answer["last_delivered"]

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        self.process.terminate()
        self.process.wait(10)
