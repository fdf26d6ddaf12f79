"""Running smsvia commands as child processes, as a user runs them."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

SMSVIA = str(Path(sys.executable).parent / "smsvia")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Running:
    """A child process whose output is collected in a file (so it can never block on a pipe)."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.out = cwd / f"{args[0]}.out"
        self.err = cwd / f"{args[0]}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [SMSVIA, *args],
                cwd=cwd,
                stdout=out,
                stderr=err,
                env={**os.environ, "COLUMNS": "250", **(env or {})},
            )

    def wait_for_output(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.out.read_text(), re.S)
            if found:
                return found
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r}; stderr:\n{self.err.read_text()[-3000:]}")
            time.sleep(0.05)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(20)


def start_worker(settings, log_path: Path, **environment: str) -> subprocess.Popen:
    """`smsvia worker` on the settings' database, its output appended to `log_path`;
    `environment` adds SMSVIA_* settings (SMSVIA_WORKER_POLL_INTERVAL="0.2", ...)."""
    env = {
        **os.environ,
        "SMSVIA_DATABASE_URL": settings.resolved_database_url,
        "SMSVIA_DATA_DIR": str(settings.data_dir),
        "SMSVIA_MASTER_KEY": settings.master_key.get_secret_value(),
        **environment,
    }
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "smsvia", "worker"], env=env, stdout=log, stderr=log
        )


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def clean_environment() -> dict[str, str]:
    """This process's environment without any SMSVIA_ setting, as on a fresh machine."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SMSVIA_")}


@contextlib.contextmanager
def demo_server(cwd: Path) -> Iterator[tuple[Running, int]]:
    """`smsvia serve --demo` in `cwd`, answering /healthz; stopped cleanly afterwards."""
    port = free_port()
    running = Running(["serve", "--demo", "--port", str(port)], cwd, env=clean_environment())
    try:
        running.wait_for_output(r"print\(client\.messages")
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, running.err.read_text()
                time.sleep(0.05)
        yield running, port
    finally:
        # uvicorn re-raises the SIGTERM it handled, after a clean shutdown.
        assert running.stop() in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in running.err.read_text()


def demo_credentials(running: Running) -> tuple[str, str]:
    """The Account SID and Auth Token the demo banner printed."""
    banner = running.out.read_text()
    sid = re.search(r"Account SID\s+(AC[0-9a-f]{32})", banner).group(1)
    token = re.search(r"Auth Token\s+([0-9a-f]{32})", banner).group(1)
    return sid, token


def daytime_zone() -> str:
    """A time zone where it is daytime now, so that marketing texts sent for real in a test
    are not held for quiet hours, whenever the tests run."""
    now = datetime.now(UTC)
    for name in _ZONES:
        if 10 <= now.astimezone(ZoneInfo(name)).hour < 18:
            return name
    raise AssertionError("no zone in daytime")  # the zones cover every hour of the day


_ZONES = (
    "America/New_York",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Europe/Berlin",
    "America/Sao_Paulo",
)
