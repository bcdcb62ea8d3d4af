"""``SqlSource``: pull a department table or query, in full or past a watermark.

Statements are built with SQLAlchemy Core for the source's dialect, so table
and column names are quoted by the dialect and the watermark is always a
bound parameter.  Only the resource's fields are selected; a field missing
from the source is schema drift.  ``engine: auto`` picks ADBC for SQLite and
PostgreSQL, connectorx for MySQL/MariaDB full loads and SQLAlchemy otherwise.

SQLite is loosely typed and ADBC infers column types from the first rows, so
on SQLite every column is read as ``CAST(col AS TEXT)`` behind a one-row typing
sentinel and cast to the pinned schema in Arrow (bad values become rejects;
SQLite's own CAST would silently turn 'abc' into 0).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar

import pyarrow as pa

from connectors import sql_engines as eng
from connectors.base import Extraction, SourceState, row_numbers
from connectors.cast import find_column
from connectors.connection import Connection, get_connection
from connectors.errors import ColumnDriftError
from schemas.connector import SqlConnector
from schemas.errors import ConfigError
from schemas.resource import Resource


class SqlSource:
    """Reads a table or query from a department database as Arrow batches."""

    type: ClassVar[str] = "sql"

    def extract(self, resource: Resource, schema: pa.Schema, state: SourceState) -> Extraction:
        """Start the extraction; connecting and reading happen while iterating."""
        spec = resource.connector
        if not isinstance(spec, SqlConnector):
            raise ConfigError(f"resource {resource.name!r} is not a 'sql' connector")
        inc = spec.incremental
        if inc is not None and inc.column not in schema.names:
            raise ConfigError(
                f"resource {resource.name!r}: incremental column {inc.column!r} is not a field",
                hint=f"fields: {', '.join(schema.names)}",
            )
        conn = get_connection(spec.connection)
        plan = _Plan(resource, spec, schema, conn, state)
        return Extraction(schema, plan.run, state, watermark_column=inc.column if inc else None)


def choose_engine(spec: SqlConnector, conn: Connection, incremental: bool) -> str:
    """The engine for a connector: its ``engine`` setting, or the fastest that fits."""
    if spec.engine != "auto":
        return spec.engine
    if conn.dialect in ("sqlite", "postgresql"):
        return "adbc"
    if conn.dialect == "mysql" and not incremental:
        return "connectorx"
    return "sqlalchemy"


def watermark_value(value: Any, dtype: pa.DataType, lookback: int = 0) -> Any:
    """The stored (text) watermark as a typed Python value, moved back by ``lookback``.

    ``lookback`` counts seconds for timestamps, days for dates, units for numbers.
    """
    if value is None:
        return None
    t = pa.types
    if t.is_timestamp(dtype):
        out: Any = (
            value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
        )
        if out.tzinfo is not None and dtype.tz is None:
            out = out.replace(tzinfo=None)
        return out - dt.timedelta(seconds=lookback)
    if t.is_date(dtype):
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
        return day - dt.timedelta(days=lookback)
    if t.is_integer(dtype):
        return int(value) - lookback
    if t.is_floating(dtype):
        return float(value) - lookback
    if t.is_decimal(dtype):
        return Decimal(str(value)) - lookback
    return str(value)


class _Plan:
    """One extraction: discover columns, build the statement, stream, cast."""

    def __init__(
        self,
        resource: Resource,
        spec: SqlConnector,
        schema: pa.Schema,
        conn: Connection,
        state: SourceState,
    ) -> None:
        self.resource, self.spec, self.schema, self.conn = resource, spec, schema, conn
        inc = spec.incremental
        self.wm_column = inc.column if inc else None
        wm_type = schema.field(inc.column).type if inc else None
        self.watermark = (
            watermark_value(state.watermark, wm_type, inc.lookback) if inc and wm_type else None
        )
        self.engine = choose_engine(spec, conn, self.watermark is not None)
        self.what = f"table {spec.table}" if spec.table else "query"
        # ADBC reads PostgreSQL numeric as text wrapped in an extension type, at
        # half the speed of reading it as text: ask for text, cast exactly in Arrow
        self._numeric_as_text = self.engine == "adbc" and conn.dialect == "postgresql"

    def run(self, ex: Extraction) -> Iterator[pa.RecordBatch]:
        if self.engine == "adbc":
            handle = eng.adbc_connect(self.conn, self.resource.name)
            try:
                found = eng.adbc_columns(self.conn, handle, self._zero_query())
                yield from self._cast_all(ex, self._adbc(handle, found))
            finally:
                handle.close()
        else:
            sa_engine = eng.sqlalchemy_engine(self.conn, self.resource.name)
            try:
                zero = self._zero_query()
                found = eng.sqlalchemy_columns(self.conn, sa_engine, self._zero_stmt(), zero)
                stmt = self._statement(found, text_cast=False)
                q = self._compile(stmt)
                if self.engine == "connectorx":
                    batches = eng.connectorx_batches(self.conn, q, self.spec.batch_rows)
                else:
                    batches = eng.sqlalchemy_batches(
                        self.conn, sa_engine, stmt, q, self.spec.batch_rows
                    )
                yield from self._cast_all(ex, batches)
            finally:
                sa_engine.dispose()

    def _adbc(self, handle: Any, found: list[str]) -> Iterator[pa.RecordBatch]:
        sqlite = self.conn.dialect == "sqlite"
        stmt = self._statement(found, text_cast=sqlite)
        if sqlite:
            stmt = self._with_sentinel(stmt)
        q = self._compile(stmt, sentinel=sqlite)
        return eng.adbc_batches(self.conn, handle, q, self.spec.batch_rows)

    def _cast_all(
        self, ex: Extraction, batches: Iterator[pa.RecordBatch]
    ) -> Iterator[pa.RecordBatch]:
        seen = 0
        for raw in batches:
            yield ex.cast(
                raw,
                self.resource.name,
                source=f"{self.conn.describe()} {self.what}",
                lines=row_numbers(seen),
            )
            seen += raw.num_rows

    # statements

    def _from(self, found: list[str] | None = None) -> Any:
        import sqlalchemy as sa

        cols: list[Any] = [sa.column(c) for c in found or []]
        if self.spec.table:
            schema_name, _, name = self.spec.table.rpartition(".")
            return sa.table(name, *cols, schema=schema_name or None)
        assert self.spec.query is not None
        return sa.text(self.spec.query).columns(*cols).subquery("q")

    def _zero_stmt(self) -> Any:
        import sqlalchemy as sa

        return sa.select(sa.text("*")).select_from(self._from()).where(sa.false())

    def _zero_query(self) -> eng.Query:
        return self._compile(self._zero_stmt())

    def _mapping(self, found: list[str]) -> dict[str, str]:
        """field -> source column; a missing field is drift."""
        out = {}
        for fld in self.schema:
            idx = find_column(found, fld.name)
            if idx is None:
                raise ColumnDriftError(
                    self.resource.name,
                    fld.name,
                    str(fld.type),
                    "no such column",
                    detail=f"{self.conn.describe()} {self.what} has: {', '.join(found)}",
                )
            out[fld.name] = found[idx]
        return out

    def _statement(self, found: list[str], *, text_cast: bool) -> Any:
        import sqlalchemy as sa

        mapping = self._mapping(found)
        src = self._from(list(mapping.values()))
        cols = []
        for fld in self.schema:
            col = src.c[mapping[fld.name]]
            if (
                text_cast
                and not pa.types.is_binary(fld.type)
                or self._numeric_as_text
                and pa.types.is_decimal(fld.type)
            ):
                col = sa.cast(col, sa.Text)
            cols.append(col.label(fld.name))
        stmt = sa.select(*cols)
        if self.wm_column is not None:
            wm = src.c[mapping[self.wm_column]]
            if self.watermark is not None:
                stmt = stmt.where(wm > sa.bindparam("watermark", self._bind_value()))
            stmt = stmt.order_by(wm)
        return stmt

    def _bind_value(self) -> Any:
        # SQLite keeps timestamps as text 'YYYY-MM-DD HH:MM:SS[.ffffff]' and compares
        # text: with the microseconds always written, equal instants never compare greater
        if self.conn.dialect == "sqlite" and isinstance(self.watermark, dt.date):
            if isinstance(self.watermark, dt.datetime):
                return self.watermark.strftime("%Y-%m-%d %H:%M:%S.%f")
            return self.watermark.isoformat()
        return self.watermark

    def _with_sentinel(self, stmt: Any) -> Any:
        """Prepend a row of '' (X'' for binary) so ADBC types every column as text."""
        import sqlalchemy as sa

        first: Any = sa.select(
            *[
                sa.literal_column("X''" if pa.types.is_binary(f.type) else "''").label(f.name)
                for f in self.schema
            ]
        )
        return sa.union_all(first, sa.select(stmt.subquery("src")))

    def _compile(self, stmt: Any, *, sentinel: bool = False) -> eng.Query:
        dialect = _dialect(self.conn, self.engine)
        compiled = stmt.compile(dialect=dialect)
        values = compiled.construct_params()
        names = compiled.positiontup or []
        return eng.Query(
            sql=str(compiled),
            params=[values[n] for n in names],
            resource=self.resource.name,
            what=self.what,
            sentinel=sentinel,
        )


def _dialect(conn: Connection, engine: str) -> Any:
    """The SQLAlchemy dialect to compile for (ADBC PostgreSQL takes $1 parameters)."""
    if engine == "adbc" and conn.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql.base import PGDialect

        return PGDialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]  # no driver import: ADBC runs it
    if engine == "adbc" and conn.dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

        return sqlite_dialect(paramstyle="qmark")
    return conn.sqlalchemy_url().get_dialect()()
