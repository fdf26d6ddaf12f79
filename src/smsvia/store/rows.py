"""Rows the hot paths (the worker, delivery receipts) read with Core instead of the ORM.

A batch of 200 messages as ORM objects costs more CPU in identity-map bookkeeping and
per-row flushes than everything else the worker does. A `Loaded` row is plain attributes
and remembers what it was read as; `save` then writes what changed in a whole batch as one
UPDATE per distinct set of new values (usually one statement for the batch), or one
executemany when the rows changed differently. New rows go in a statement or a few, however
many (`insert_many`, `insert_returning`), and on PostgreSQL with a statement text that does
not depend on how many.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from operator import attrgetter, itemgetter
from typing import Any, ClassVar, Self

from sqlalchemy import (
    JSON,
    ColumnElement,
    Insert,
    Result,
    Row,
    Select,
    String,
    Table,
    Text,
    Update,
    any_,
    bindparam,
    cast,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

# Above this many distinct value sets, one executemany beats an UPDATE per set.
_SEPARATE_UPDATES = 4


class Loaded:
    """One row as plain attributes: every column of `table`, named as in the model, in the
    table's column order (a subclass sets `__slots__` to `tuple(table.c.keys())`)."""

    table: ClassVar[Table]
    id: int
    _current: ClassVar[Callable[[Any], tuple[Any, ...]]]
    __slots__ = ("_read",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._current = attrgetter(*cls.__slots__)

    def __init__(self, values: Iterable[Any]) -> None:
        """From the column values in table order: a Core row of `select(table)`."""
        self._read = tuple(values)
        for name, value in zip(self.__slots__, self._read, strict=True):
            setattr(self, name, value)

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Self:
        """From values by column name; the columns not given are None."""
        return cls(values.get(name) for name in cls.__slots__)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={getattr(self, 'id', '?')}>"

    def changes(self) -> dict[str, Any]:
        """The columns set to something other than what was read, with their new values."""
        current = self._current(self)
        if current == self._read:
            return {}
        return {
            name: value
            for name, old, value in zip(self.__slots__, self._read, current, strict=True)
            if value != old
        }

    def _saved(self) -> None:
        self._read = self._current(self)


async def insert_many(
    session: AsyncSession, statement: Insert | Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert `rows` (`statement`: a table, or an INSERT such as an upsert) in one statement
    or a few, never one per row.

    On PostgreSQL, rows alike (the same columns) go into a table as COPY from `COPY_FROM`
    rows, and otherwise as one INSERT of arrays (`_unnested`): the same statement text for
    any number of rows. Elsewhere, asking for the ids back is what makes SQLAlchemy batch
    the rows into INSERT ... VALUES (...), (...) ("insertmanyvalues"); a plain executemany
    has the server plan and run an INSERT per row."""
    if not rows:
        return
    if _alike(session, rows):
        if isinstance(statement, Table) and len(rows) >= COPY_FROM:
            await _copy(session, statement, rows)
        else:
            await _insert_unnested(session, statement, rows, ())
        return
    insert_into = insert(statement) if isinstance(statement, Table) else statement
    await session.execute(insert_into.returning(insert_into.table.c.id), list(rows))


async def insert_returning(
    session: AsyncSession,
    statement: Insert | Table,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[ColumnElement[Any]] = (),
) -> list[Row[Any]]:
    """Insert `rows` (all with the same columns); returns the new rows' id and `columns`,
    in the order of `rows` (an upsert: the rows it wrote, by id).

    PostgreSQL: one INSERT of arrays (`_unnested`), the rows numbered and inserted in that
    order, so their ids, sorted, follow it. SQLite: SQLAlchemy would send one statement a
    row to be sure of the order; a multi-row INSERT gives each new row the largest rowid so
    far plus one, in the order of its VALUES, so again the rows sorted by id are in order."""
    if not rows:
        return []
    table = statement if isinstance(statement, Table) else statement.table
    returning = (table.c.id, *columns)
    if _alike(session, rows):  # a table as it is: its whole statement is kept
        inserted = await _insert_unnested(session, statement, rows, returning)
    else:
        insert_into = insert(statement) if isinstance(statement, Table) else statement
        inserted = await session.execute(insert_into.returning(*returning), list(rows))
    return sorted(inserted.all(), key=itemgetter(0))


def _alike(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> bool:
    return session.bind.dialect.name == "postgresql" and all(
        row.keys() == rows[0].keys() for row in rows
    )


async def _insert_unnested(
    session: AsyncSession,
    statement: Insert | Table,
    rows: Sequence[Mapping[str, Any]],
    returning: Sequence[ColumnElement[Any]],
) -> Result[Any]:
    """INSERT ... SELECT FROM unnest($1::type[], $2::type[], ...): a column's values as one
    array parameter. A multi-row VALUES is a statement of its own for every number of rows,
    each prepared and cached on every pooled connection (the worker's memory grew with
    them); this is one statement per table and columns."""
    names = tuple(rows[0])
    insert_into, as_json = _unnested_into(statement, names, session.bind.dialect, tuple(returning))
    params = {f"u_{name}": [row[name] for row in rows] for name in names}
    for name, process in as_json:
        params[f"u_{name}"] = [process(value) for value in params[f"u_{name}"]]
    return await session.execute(insert_into, params)


@functools.lru_cache(maxsize=256)
def _unnested_into(
    statement: Insert | Table,
    names: tuple[str, ...],
    dialect: Dialect,
    returning: tuple[ColumnElement[Any], ...],
) -> tuple[Insert, list[tuple[str, Callable[[Any], Any]]]]:
    """The whole statement, kept (its cache key too) for a table, or for an INSERT its
    caller keeps (an upsert built once)."""
    table = statement if isinstance(statement, Table) else statement.table
    source, as_json = _unnested(table, names, dialect)
    into = (insert(table) if isinstance(statement, Table) else statement).from_select(names, source)
    return (into.returning(*returning) if returning else into), as_json


@functools.cache
def _unnested(
    table: Table, names: tuple[str, ...], dialect: Dialect
) -> tuple[Select[Any], list[tuple[str, Callable[[Any], Any]]]]:
    """The rows of `names` out of their arrays, in order, and the JSON columns'
    serializers: their values go as text (an array of JSON values would be read as nested
    arrays), cast. A string array is cast without its column's length: an explicit cast to
    varchar(n) cuts a longer value without a word, where storing it into the column refuses
    it, as a plain INSERT or COPY does."""
    arrays = []
    as_json = []
    for name in names:
        kind = table.c[name].type
        if isinstance(kind, String) and kind.length is not None:
            kind = String()
        if isinstance(kind.dialect_impl(dialect), JSON):
            as_json.append((name, kind.dialect_impl(dialect).bind_processor(dialect)))
            given: Any = ARRAY(Text())
        else:
            given = ARRAY(kind)
        arrays.append(cast(bindparam(f"u_{name}", type_=given), ARRAY(kind)))
    source = func.unnest(*arrays).table_valued(*names, with_ordinality="n").render_derived()
    return select(*(source.c[name] for name in names)).order_by(source.c.n), as_json


# From this many rows a plain insert goes as PostgreSQL's COPY: the rows stream in one
# binary message, with no statement to build for them, no parameters to bind one by one.
COPY_FROM = 100


async def _copy(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """COPY the rows into `table` on the session's own connection (inside its transaction),
    each value passed through its column type's bind processing first, as an INSERT would."""
    connection = await session.connection()
    dialect = connection.dialect
    columns = list(rows[0])
    # Most columns go as they are; only those whose type processes its values (JSON, our
    # UTC datetimes, booleans) are passed through, by position.
    processing = [
        (position, process)
        for position, name in enumerate(columns)
        if (process := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
    ]
    values_of = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    records: list[tuple[Any, ...]] = []
    for row in rows:
        record = values_of(row)
        if processing:
            listed = list(record)
            for position, process in processing:
                listed[position] = process(listed[position])
            record = tuple(listed)
        records.append(record)
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(table.name, records=records, columns=columns)


def among(session: AsyncSession, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """`column IN (values)`, which on PostgreSQL is `column = ANY($1)` with one array
    parameter: the same statement text for any number of values, so it is compiled and
    prepared once, not once for every batch size."""
    if session.bind.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def among_given(dialect: Dialect, column: Any, name: str) -> ColumnElement[bool]:
    """`among` for a statement built once and kept: the values come at execution, as the
    parameter `name` (a list)."""
    if dialect.name == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


async def save(session: AsyncSession, rows: Iterable[Loaded]) -> None:
    """Write what changed in `rows` (all of one table) back to the database."""
    by_columns: dict[tuple[str, ...], list[tuple[Loaded, dict[str, Any]]]] = defaultdict(list)
    table: Table | None = None
    for row in rows:
        changed = row.changes()
        if changed:
            table = row.table
            by_columns[tuple(sorted(changed))].append((row, changed))
    if table is None:
        return
    key = table.c.id
    for changed_rows in by_columns.values():
        by_values: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
        for row, changed in changed_rows:
            by_values[tuple(changed.items())].append(row.id)
        if len(by_values) <= _SEPARATE_UPDATES:
            for values, ids in by_values.items():
                names = tuple(name for name, _ in values)
                statement = _update_of(table, names, session.bind.dialect)
                given = {f"_v_{name}": value for name, value in values}
                await session.execute(statement, {"_ids": ids, **given})
        else:
            await session.execute(
                update(table).where(key == bindparam("_id")),
                [{"_id": row.id, **changed} for row, changed in changed_rows],
            )
        for row, _ in changed_rows:
            row._saved()


@functools.lru_cache(maxsize=512)
def _update_of(table: Table, names: tuple[str, ...], dialect: Dialect) -> Update:
    """UPDATE `table` SET each of `names` WHERE id among `_ids`, built once: building a
    statement and its cache key costs more than running it (50-400 µs)."""
    return (
        update(table)
        .where(among_given(dialect, table.c.id, "_ids"))
        .values({name: bindparam(f"_v_{name}", type_=table.c[name].type) for name in names})
    )
