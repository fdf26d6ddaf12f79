"""What the benchmarks share: a scratch database of either kind and process measurements."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import asyncpg

ADMIN = os.environ.get("SMSVIA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SMSVIA = str(Path(sys.executable).parent / "smsvia")


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
