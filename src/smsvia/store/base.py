"""The declarative base every table shares, with constraint names Alembic can rely on."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import Index, MetaData, text
from sqlalchemy.orm import DeclarativeBase

from smsvia.store.types import Money, UTCDateTime

# Stable constraint names, so Alembic migrations can refer to them on both databases.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), Decimal: Money}


def held_leases(table: str) -> Index:
    """The rows some worker holds: how the claims of a worker that died are found."""
    held = text("lease_owner IS NOT NULL")
    return Index(f"ix_{table}_lease_owner", "lease_owner", postgresql_where=held, sqlite_where=held)
