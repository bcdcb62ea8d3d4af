"""Write demo datasets in each department's own format: SQLite, CSV (GBK, BOM), xlsx, Parquet, JSON lines."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def _text_for_sql(table: pa.Table) -> pa.Table:
    """Dates as YYYY-MM-DD and timestamps as 'YYYY-MM-DD HH:MM:SS' text, as departments' databases hold them."""
    cols = []
    for field in table.schema:
        col = table[field.name]
        if pa.types.is_timestamp(field.type):
            col = pc.strftime(col, "%Y-%m-%d %H:%M:%S")
        elif pa.types.is_date(field.type):
            col = pc.strftime(col, "%Y-%m-%d")
        cols.append(col)
    return pa.table(cols, names=table.column_names)


def sqlite_table(path: Path, name: str, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = _text_for_sql(table)
    kinds = {
        pa.types.is_integer: "INTEGER",
        pa.types.is_floating: "REAL",
        pa.types.is_boolean: "INTEGER",
    }
    decl = []
    for field in table.schema:
        sql_type = next((v for k, v in kinds.items() if k(field.type)), "TEXT")
        decl.append(f'"{field.name}" {sql_type}')
    con = sqlite3.connect(path)
    try:
        con.execute(f'DROP TABLE IF EXISTS "{name}"')
        con.execute(f'CREATE TABLE "{name}" ({", ".join(decl)})')
        marks = ", ".join("?" * table.num_columns)
        for batch in table.to_batches(50_000):
            con.executemany(
                f'INSERT INTO "{name}" VALUES ({marks})',
                zip(*[c.to_pylist() for c in batch.columns], strict=True),
            )
        con.commit()
    finally:
        con.close()


def sql_table(url: str, name: str, table: pa.Table) -> None:
    """Write to PostgreSQL/MariaDB through SQLAlchemy (all columns as text, like a legacy export)."""
    import sqlalchemy as sa

    table = _text_for_sql(table)
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    types = {
        pa.types.is_integer: sa.BigInteger,
        pa.types.is_floating: sa.Float,
        pa.types.is_boolean: sa.Boolean,
    }
    cols = [
        sa.Column(f.name, next((v() for k, v in types.items() if k(f.type)), sa.String(255)))
        for f in table.schema
    ]
    t = sa.Table(name, meta, *cols)
    with engine.begin() as conn:
        t.drop(conn, checkfirst=True)
        t.create(conn)
        for batch in table.to_batches(20_000):
            conn.execute(t.insert(), batch.to_pylist())
    engine.dispose()


def _renamed(table: pa.Table, headers: dict[str, str]) -> pa.Table:
    """field -> file header (the inverse of the catalog's `columns:` mapping)."""
    back = {field: header for header, field in headers.items()}
    return table.rename_columns([back.get(n, n) for n in table.column_names])


def csv_file(
    path: Path, table: pa.Table, headers: dict[str, str], encoding: str, extra_lines: list[str] = ()
) -> None:
    import io

    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    pacsv.write_csv(
        _text_for_sql(_renamed(table, headers)), buf, pacsv.WriteOptions(quoting_style="needed")
    )
    text = buf.getvalue().decode("utf-8")
    if extra_lines:
        text = text.rstrip("\n") + "\n" + "\n".join(extra_lines) + "\n"
    path.write_bytes(text.encode(encoding))


def xlsx_file(path: Path, table: pa.Table, headers: dict[str, str], sheet: str) -> None:
    from openpyxl import Workbook

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    named = _renamed(table, headers)
    ws.append(named.column_names)
    for row in zip(*[c.to_pylist() for c in named.columns], strict=True):
        ws.append(list(row))
    wb.save(path)


def parquet_file(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def jsonl_file(path: Path, table: pa.Table, extra_lines: list[str] = ()) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in _text_for_sql(table).to_pylist():
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        for line in extra_lines:
            fh.write(line + "\n")


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
