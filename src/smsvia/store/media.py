"""Media bytes on disk and their rows.

Files live under `<data dir>/media/ab/abcdef…`, named by their SHA-256: the same picture
sent to a million recipients is one file, a retry after a crash writes the same name, and a
file is written under a temporary name and renamed, so no reader ever sees half of one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.media_models import Media
from smsvia.store.rows import insert_many


class MediaFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, data: bytes) -> str:
        """Keep `data`; returns its SHA-256 (hex), the name to read it back by."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as temporary:
            temporary.write(data)
            temporary.flush()
            os.fsync(temporary.fileno())
        os.replace(temporary.name, path)
        return digest

    def read(self, digest: str) -> bytes | None:
        try:
            return self._path(digest).read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    def _path(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a SHA-256: {digest!r}")
        return self.root / digest[:2] / digest


async def add_media(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await insert_many(session, Media.__table__, rows)


async def replace_media(
    session: AsyncSession, message_id: int, rows: Sequence[dict[str, Any]]
) -> None:
    """The message's media rows, written anew (an attempt after a retry replaces its own)."""
    await drop_media(session, message_id)
    await add_media(session, rows)


async def drop_media(session: AsyncSession, message_id: int) -> None:
    await session.execute(delete(Media).where(Media.message_id == message_id))


async def media_of_message(session: AsyncSession, message_id: int) -> list[Media]:
    found = await session.scalars(
        select(Media).where(Media.message_id == message_id).order_by(Media.position)
    )
    return list(found)


async def medium_by_sid(session: AsyncSession, account_id: int, sid: str) -> Media | None:
    return await session.scalar(
        select(Media).where(Media.sid == sid, Media.account_id == account_id)
    )
