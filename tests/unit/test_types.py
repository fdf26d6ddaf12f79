"""store/types.py: UTC datetimes bound as SQLAlchemy's own types would bind them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import postgresql, sqlite

from smsvia.store.types import UTCDateTime

ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=45)), timezone(-timedelta(hours=8))]
)
# astimezone(UTC) must stay within datetime's years
MOMENTS = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 30), timezones=ZONES
)


@given(MOMENTS)
def test_sqlite_text_is_what_sqlalchemys_datetime_writes(moment):
    dialect = sqlite.dialect()
    ours = UTCDateTime()._cached_bind_processor(dialect)
    theirs = DateTime()._cached_bind_processor(dialect)
    assert ours(moment) == theirs(moment.astimezone(UTC).replace(tzinfo=None))
    # and it reads back as the same moment
    assert UTCDateTime()._cached_result_processor(dialect, None)(ours(moment)) == moment


@given(MOMENTS)
def test_postgresql_gets_the_moment_in_utc(moment):
    bound = UTCDateTime()._cached_bind_processor(postgresql.asyncpg.dialect())
    value = bound(moment) if bound else UTCDateTime().process_bind_param(moment, None)
    assert value == moment and value.tzinfo is UTC


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.asyncpg.dialect()])
def test_naive_datetimes_and_none(dialect):
    column = UTCDateTime()
    bind = column._cached_bind_processor(dialect) or (
        lambda value: column.process_bind_param(value, dialect)
    )
    assert bind(None) is None
    with pytest.raises(ValueError, match="naive"):
        bind(datetime(2026, 1, 1))
