"""Settings: every one has an `SMSVIA_` environment variable (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMSVIA_", extra="ignore")

    # Region used for numbers written without a country code, and for prices when no
    # destination is given.
    default_region: str = "US"
    # A TOML price book replacing the built-in one (src/smsvia/data/price_book.toml).
    price_book: Path | None = None
