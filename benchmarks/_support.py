"""What the benchmarks share: a scratch database of either kind and process measurements."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import asyncpg

ADMIN = os.environ.get("SMSVIA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
# The programs installed beside this interpreter (its venv's, activated or not).
BIN = Path(sys.executable).parent
SMSVIA = str(BIN / "smsvia")


async def new_database(db: str, sqlite_file: Path) -> tuple[str, str | None]:
    """(SQLAlchemy URL, scratch PostgreSQL database name or None) of an empty database."""
    if db == "sqlite":
        return f"sqlite+aiosqlite:///{sqlite_file}", None
    scratch = f"smsvia_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{scratch}"')
    finally:
        await admin.close()
    base = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{scratch}", scratch


async def drop_database(scratch: str | None) -> None:
    if scratch is None:
        return
    admin = await asyncpg.connect(ADMIN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    finally:
        await admin.close()


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of_named(name: str) -> float:
    """CPU time of every process with this command name so far (PostgreSQL's server and
    backends, Redis); a process that ends takes its time with it, so this undercounts."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text.split("(", 1)[1].startswith(f"{name})"):
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def percentile(values: list[float], q: int) -> float:
    import statistics

    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]
