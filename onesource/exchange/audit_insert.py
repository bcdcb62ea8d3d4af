"""The raw INSERT of audit rows: compiled once per dialect, values bound by the columns'
own SQLAlchemy bind processors (rows stored exactly as the ORM would store them)."""

from __future__ import annotations

import contextlib
from typing import Any

import sqlalchemy as sa

from onesource.store.exchange_models import AuditEntry

_TABLE: sa.Table = AuditEntry.__table__  # type: ignore[assignment]
# the entry's own fields (what the chain hashes), then the chain marker
ENTRY_FIELDS = (
    "seq",
    "at",
    "department",
    "endpoint",
    "method",
    "resource",
    "fields",
    "purpose",
    "result",
    "status_code",
    "row_count",
    "duration_ms",
)
_COLUMNS = (*ENTRY_FIELDS, "chain")
_STORED = (*_COLUMNS, "prev_hash", "hash")


def _sqlite_max_variables() -> int:
    """The host parameters one statement may bind: a compile-time limit of the SQLite library
    (999 in old or conservative builds), capped to keep statements a sensible size."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        return min(conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 32766)


class Insert:
    """The raw INSERT of audit rows for one dialect, and each column's bind processor."""

    def __init__(self, dialect: sa.Dialect) -> None:
        stmt = sa.insert(_TABLE).values({name: sa.bindparam(name) for name in _STORED})
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        order = list(compiled.positiontup or ()) if self.positional else list(_STORED)
        assert sorted(order) == sorted(_STORED), order
        self.order = order
        self.processors = [
            _TABLE.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in order
        ]
        head = sa.select(_TABLE.c.seq, _TABLE.c.hash).order_by(_TABLE.c.seq.desc()).limit(1)
        self.head_sql = str(head.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        # SQLite: multi-row INSERTs instead of executemany (the sqlite3 module releases the
        # GIL around every statement step, see AuditLog._append_sqlite)
        self.multirow = dialect.name == "sqlite" and self.positional
        self.rows_per_statement = _sqlite_max_variables() // len(order) if self.multirow else 1
        head_part, _, values = self.sql.partition(" VALUES ")
        self._multi_head, self._multi_values = head_part + " VALUES ", values
        self._multi_sql: dict[int, str] = {}

    def multi_sql(self, n: int) -> str:
        """``INSERT ... VALUES (...), (...)`` for ``n`` rows (positional parameters)."""
        sql = self._multi_sql.get(n)
        if sql is None:
            sql = self._multi_sql[n] = self._multi_head + ", ".join([self._multi_values] * n)
        return sql

    def execute(self, conn: sa.Connection, rows: list[Any]) -> None:
        """Insert ``rows`` (from ``params``) inside the caller's transaction."""
        if not self.multirow:
            conn.exec_driver_sql(self.sql, rows)  # one executemany
            return
        step = self.rows_per_statement
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            conn.exec_driver_sql(self.multi_sql(len(chunk)), tuple(v for r in chunk for v in r))

    def params(self, row: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = [
            row[name] if proc is None else proc(row[name])
            for name, proc in zip(self.order, self.processors, strict=True)
        ]
        return tuple(values) if self.positional else dict(zip(self.order, values, strict=True))
