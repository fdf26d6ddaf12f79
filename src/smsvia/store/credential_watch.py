"""Hearing at once that credentials changed, in every process, where that can be done
without a race: how the authenticator may keep a login cache on SQLite and still never
accept a deleted key or a rotated token.

SQLite: a file next to the database, stamped with a new random value by the process that
changes credentials, before and after its commit; it is read on every look-up (a few
microseconds). A reader between the two stamps looks at the database again and finds the
old state, then the second stamp sends it to look once more.

PostgreSQL: other processes' changes could only be heard by LISTEN, a moment after their
commit, so the cache is never trusted there (`trusted` is False) and each request reads its
credentials' row.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from smsvia.store.database import Database


class CredentialWatch:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._local = 0  # changes made in this process
        self._file = _stamp_file(database)

    @property
    def generation(self) -> tuple[int, str]:
        """Different whenever credentials may have changed since it was last read. The
        stamp is read, not its modification time: two stamps within a clock tick of the
        file system would look alike."""
        stamp = ""
        if self._file is not None:
            try:
                stamp = self._file.read_text()
            except FileNotFoundError:
                stamp = ""
        return (self._local, stamp)

    @property
    def trusted(self) -> bool:
        """Whether a remembered login may stand until `generation` moves: on SQLite with a
        file database, where the stamp is seen before a change commits."""
        return self._file is not None

    async def changed(self, session: AsyncSession) -> None:
        """Tell every process, once the current transaction commits, that credentials
        changed (call `committed` after the commit, too). `session` is the transaction's."""
        # Before the commit too: a reader in between looks again, sees the old state, and
        # the second stamp (after the commit) sends it to look once more.
        self.committed()

    def committed(self) -> None:
        """After the commit of a change: SQLite's readers see the new stamp."""
        self._local += 1
        if self._file is not None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            # Written whole under another name, then renamed: no reader sees half a stamp.
            partial = self._file.with_name(f"{self._file.name}.{secrets.token_hex(4)}")
            partial.write_text(secrets.token_hex(8))
            os.replace(partial, self._file)

    async def close(self) -> None:
        """Nothing to release (kept for the runtime's symmetry)."""


def _stamp_file(database: Database) -> Path | None:
    if not database.is_sqlite:
        return None
    path = make_url(database.url).database
    if not path or path == ":memory:":
        return None
    return Path(os.path.abspath(path) + ".credentials")
