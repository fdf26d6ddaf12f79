"""Settings: every one has an `SMSVIA_` environment variable (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'smsvia.db'}"
