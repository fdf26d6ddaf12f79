"""Bring a database to the newest schema with Alembic (`smsvia db upgrade`; `serve` at start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from smsvia.store.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant will do: it only has to be the same in every smsvia process.
_MIGRATION_LOCK = 7_206_117_001


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def upgrade(database: Database) -> str:
    """Apply every pending migration; returns the revision the database is at."""
    async with database.engine.begin() as connection:
        return await connection.run_sync(_upgrade)


async def current_revision(database: Database) -> str | None:
    async with database.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _upgrade(connection: Connection) -> str:
    if connection.dialect.name == "postgresql":
        # Two processes starting together must not both run the same migration.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return MigrationContext.configure(connection).get_current_revision() or ""
