"""What every service needs from the edge of storage: the database, the cipher, the files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from smsvia.store.credential_watch import CredentialWatch
from smsvia.store.crypto import Cipher
from smsvia.store.database import Database
from smsvia.store.media import MediaFiles
from smsvia.store.notify import OutboxSignal


@dataclass
class Store:
    db: Database
    cipher: Cipher
    # Wakes workers when a message becomes due (LISTEN/NOTIFY on PostgreSQL).
    signal: OutboxSignal = field(default_factory=lambda: OutboxSignal(None))
    # MMS pictures and videos, as sent and as received.
    media: MediaFiles = field(default_factory=lambda: MediaFiles(Path("smsvia-data/media")))
    # Deleted keys and rotated tokens, heard at once by every process's login cache.
    credentials: CredentialWatch = field(init=False)

    def __post_init__(self) -> None:
        self.credentials = CredentialWatch(self.db)
