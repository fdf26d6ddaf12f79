"""What every service needs from the edge of storage: the database and the cipher."""

from __future__ import annotations

from dataclasses import dataclass, field

from smsvia.store.crypto import Cipher
from smsvia.store.database import Database
from smsvia.store.notify import OutboxSignal


@dataclass
class Store:
    db: Database
    cipher: Cipher
    # Wakes workers when a message becomes due (LISTEN/NOTIFY on PostgreSQL).
    signal: OutboxSignal = field(default_factory=lambda: OutboxSignal(None))
