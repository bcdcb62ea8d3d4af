"""The three ways ``SqlSource`` reads a result set as Arrow batches.

- ADBC (SQLite, PostgreSQL): Arrow-native, ``cursor.fetch_record_batch()``.
- connectorx (MySQL/MariaDB full loads): ``return_type="arrow_stream"``; it
  cannot bind parameters, so incremental loads use SQLAlchemy.
- SQLAlchemy (anything else): server-side cursor with an explicit partition size.

Each reader yields batches as the database returns them (memory is bounded by
the batch size) and maps driver errors to ``SourceUnavailableError`` (could not
connect: retry) or ``SourceQueryError`` (the database refused the query).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from connectors.connection import Connection
from connectors.errors import DriverMissingError, SourceQueryError
from schemas.errors import OneSourceError, SourceUnavailableError

# messages of query-level failures (terminal); any other driver error while
# talking to the database is treated as a lost connection (transient)
_QUERY_ERRORS = re.compile(
    r"no such (table|column)|does not exist|syntax error|unknown column|doesn't exist|"
    r"permission denied|access denied for|undefined|ambiguous|invalid input syntax",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Query:
    """A compiled statement for one engine, plus what to say about it in errors."""

    sql: str
    params: Sequence[Any]
    resource: str
    what: str  # e.g. "table population"
    sentinel: bool = False  # first row is a typing sentinel to drop (SQLite via ADBC)


def scrub(text: str, conn: Connection) -> str:
    """Remove the password from a driver message."""
    if conn.password:
        text = text.replace(conn.password, "***")
    return text


def unavailable(conn: Connection, resource: str, exc: BaseException) -> SourceUnavailableError:
    first = (
        scrub(str(exc), conn).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    )
    return SourceUnavailableError(
        f"cannot reach {conn.describe()} for resource {resource!r}: {first}",
        hint="the run will be retried; check that the database is up and the connection is right",
    )


def classify(conn: Connection, q: Query, exc: BaseException) -> OneSourceError:
    """A driver error as a transient or terminal hub error."""
    text = scrub(str(exc), conn)
    if _QUERY_ERRORS.search(text):
        first = text.strip().splitlines()[0]
        return SourceQueryError(
            f"{conn.describe()} refused the query for resource {q.resource!r} ({q.what}): {first}",
            hint="check the connector's table/query and the account's permissions",
        )
    return unavailable(conn, q.resource, exc)


def check_sqlite_file(conn: Connection, resource: str) -> str:
    """SQLite drivers create missing files; a missing source file is an unreachable source."""
    path = conn.schema or conn.host
    if not path or (path != ":memory:" and not Path(path).is_file()):
        raise SourceUnavailableError(
            f"cannot reach {conn.describe()} for resource {resource!r}: no SQLite file at {path!r}",
            hint="check the connection's path (schema or host field)",
        )
    return path


def _adbc_module(dialect: str) -> Any:
    try:
        if dialect == "sqlite":
            import adbc_driver_sqlite.dbapi as sqlite_dbapi

            return sqlite_dbapi
        import adbc_driver_postgresql.dbapi as pg_dbapi

        return pg_dbapi
    except ImportError as exc:
        raise DriverMissingError(
            f"the ADBC driver for {dialect} is not installed ({exc.name})",
            hint=f"install adbc-driver-{dialect}, or set the connector's engine: sqlalchemy",
        ) from exc


def adbc_connect(conn: Connection, resource: str) -> Any:
    """An ADBC DB-API connection to a SQLite file or PostgreSQL."""
    dialect = conn.dialect
    mod = _adbc_module(dialect)
    if dialect == "sqlite":
        target = check_sqlite_file(conn, resource)
    else:
        url = conn.sqlalchemy_url().set(drivername="postgresql")
        target = url.render_as_string(hide_password=False)
    try:
        return mod.connect(target)
    except Exception as exc:
        raise unavailable(conn, resource, exc) from None


def adbc_columns(conn: Connection, handle: Any, q: Query) -> list[str]:
    """Column names of a zero-row query."""
    try:
        with contextlib.closing(handle.cursor()) as cur:
            cur.execute(q.sql)
            names = [d[0] for d in cur.description or []]
            cur.fetchall()
            return names
    except Exception as exc:
        raise classify(conn, q, exc) from None


def adbc_batches(
    conn: Connection, handle: Any, q: Query, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """Stream a query through ADBC."""
    try:
        cur = handle.cursor()
        if conn.dialect == "sqlite":
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
        cur.execute(q.sql, parameters=tuple(q.params) or None)
        reader = cur.fetch_record_batch()
    except Exception as exc:
        raise classify(conn, q, exc) from None
    first = q.sentinel
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except Exception as exc:
                raise classify(conn, q, exc) from None
            if first:
                batch, first = batch.slice(1), False
            yield batch
    finally:
        with contextlib.suppress(Exception):
            cur.close()


def connectorx_batches(conn: Connection, q: Query, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Stream a parameterless query through connectorx (MySQL/MariaDB)."""
    try:
        import connectorx as cx
    except ImportError as exc:
        raise DriverMissingError(
            "connectorx is not installed", hint="install connectorx, or set engine: sqlalchemy"
        ) from exc
    url = conn.sqlalchemy_url().set(drivername="mysql", query={})
    try:
        reader = cx.read_sql(
            url.render_as_string(hide_password=False),
            q.sql,
            return_type="arrow_stream",
            batch_size=batch_rows,
        )
        yield from reader
    except Exception as exc:
        raise classify(conn, q, exc) from None


def sqlalchemy_engine(conn: Connection, resource: str) -> Any:
    """A pool-less SQLAlchemy engine for one extraction."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    if conn.dialect == "sqlite":
        check_sqlite_file(conn, resource)
    try:
        return sa.create_engine(conn.sqlalchemy_url(), poolclass=NullPool)
    except ImportError as exc:
        raise DriverMissingError(
            f"the database driver for {conn.conn_type} is not installed ({exc.name})",
            hint="install the SQLAlchemy dialect's driver package",
        ) from exc


def sqlalchemy_columns(conn: Connection, engine: Any, stmt: Any, q: Query) -> list[str]:
    """Column names of a zero-row statement; connection failures are transient."""
    import sqlalchemy as sa

    try:
        c = engine.connect()
    except sa.exc.DBAPIError as exc:
        raise unavailable(conn, q.resource, exc.orig or exc) from None
    try:
        with c:
            return list(c.execute(stmt).keys())
    except sa.exc.DBAPIError as exc:
        raise classify(conn, q, exc.orig or exc) from None


def sqlalchemy_batches(
    conn: Connection, engine: Any, stmt: Any, q: Query, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """Stream a Core statement with a server-side cursor, ``batch_rows`` rows at a time."""
    import sqlalchemy as sa

    try:
        c = engine.connect()
    except sa.exc.DBAPIError as exc:
        raise unavailable(conn, q.resource, exc.orig or exc) from None
    try:
        with c:
            streaming = c.execution_options(stream_results=True, yield_per=batch_rows)
            result = streaming.execute(stmt)
            names = list(result.keys())
            # always pass the size: partitions() on some statements otherwise yields 1-row parts
            for part in result.partitions(batch_rows):
                yield rows_to_batch(names, part)
    except sa.exc.DBAPIError as exc:
        raise classify(conn, q, exc.orig or exc) from None
    finally:
        engine.dispose()


def rows_to_batch(names: list[str], rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
    """Python rows -> a batch; a column of mixed Python types becomes text."""
    arrays = []
    for col in zip(*rows, strict=True) if rows else [() for _ in names]:
        values = list(col)
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=names)
