"""Settings: every one has an `SMSVIA_` environment variable (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from smsvia.dispatch.worker import WorkerConfig
    from smsvia.services.retention import Retention


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMSVIA_", extra="ignore")

    data_dir: Path = Path("./smsvia-data")
    # Default: SQLite in the data dir. PostgreSQL as postgresql+asyncpg://user@host/db.
    database_url: str | None = None
    # Base64 of 32 bytes; generated into the data dir (mode 0600) when absent.
    master_key: SecretStr | None = None
    # The URL callbacks, short links and forms are built from.
    public_url: str = "http://127.0.0.1:8080"
    # Region used for numbers written without a country code, and for prices when no
    # destination is given.
    default_region: str = "US"
    # A TOML price book replacing the built-in one (src/smsvia/data/price_book.toml).
    price_book: Path | None = None
    # A TOML table of quiet hours and caps by state replacing the built-in one
    # (src/smsvia/data/quiet_hours.toml).
    quiet_hours: Path | None = None
    # Let outbound fetches (link previews) reach private and loopback addresses: for the
    # demo and tests only; otherwise the SSRF guard refuses them (channels/fetch.py).
    allow_private_urls: bool = False
    # Logs on stderr: "text" for people, "json" (one object a line) for collectors.
    log_format: Literal["text", "json"] = "text"
    log_level: str = "info"
    # The worker: messages claimed per batch, how long a claim holds before another worker
    # may take the batch over (after a crash), and how often it looks when nothing wakes it.
    worker_batch_size: int = 200
    worker_lease_seconds: float = 120.0
    worker_poll_interval: float = 1.0
    # Retention, in days (0: for ever): the receipt inbox and stored RBM events, timeline
    # entries of finished messages, finished status callbacks with their attempts
    # (services/retention.py says what is never pruned).
    retain_receipts_days: int = Field(30, ge=0)
    retain_timeline_days: int = Field(0, ge=0)
    retain_webhooks_days: int = Field(30, ge=0)

    def worker_config(self) -> WorkerConfig:
        from smsvia.dispatch.worker import WorkerConfig

        return WorkerConfig(
            batch_size=self.worker_batch_size,
            lease_seconds=self.worker_lease_seconds,
            poll_interval=self.worker_poll_interval,
        )

    def retention(self) -> Retention:
        from smsvia.services.retention import Retention

        return Retention(
            receipts_days=self.retain_receipts_days,
            timeline_days=self.retain_timeline_days,
            webhooks_days=self.retain_webhooks_days,
        )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'smsvia.db'}"
