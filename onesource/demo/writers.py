"""Write demo datasets in each department's own format: SQLite, CSV (GBK, BOM), xlsx, Parquet, JSON lines."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def _text_for_sql(table: pa.Table) -> pa.Table:
    """Dates as YYYY-MM-DD and timestamps as 'YYYY-MM-DD HH:MM:SS' text, as departments' databases hold them."""
    cols = []
    for field in table.schema:
        col = table[field.name]
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            # the cast kernel prints ISO 8601 like strftime, ~30x faster; [s] drops fractions
            col = col.cast(pa.timestamp("s"), safe=False).cast(pa.string())
        elif pa.types.is_timestamp(field.type):
            col = pc.strftime(col, "%Y-%m-%d %H:%M:%S")
        elif pa.types.is_date(field.type):
            col = col.cast(pa.date32()).cast(pa.string())
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
        con.commit()
    finally:
        con.close()
    # ADBC binds Arrow columns in C: no Python object per cell (executemany was ~3x slower)
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(str(path)) as conn:
        with conn.cursor() as cur:
            cur.adbc_ingest(name, table, mode="append")
        conn.commit()


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
    path: Path,
    table: pa.Table,
    headers: dict[str, str],
    encoding: str,
    extra_lines: Sequence[str] = (),
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


def _blob(values: pa.Array) -> memoryview:
    """The characters of a string array, concatenated (a view of its data buffer)."""
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], np.int32)[values.offset : values.offset + n + 1]
    data = values.buffers()[2]
    if data is None or not n:
        return memoryview(b"")
    return memoryview(data)[offsets[0] : offsets[-1]]


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and constants."""
    return pc.binary_join_element_wise(
        *(pa.scalar(p) if isinstance(p, str) else p for p in parts), ""
    )


_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"  # not in XML; json.dumps writes \u00XX


def _has(values: pa.ChunkedArray | pa.Array, regex: str) -> bool:
    return bool(pc.any(pc.match_substring_regex(values, regex)).as_py())


def _xml_text(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        values = pc.replace_substring(values, char, entity)
    return values


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


_XLSX_EPOCH = 25_569  # 1970-01-01 as an Excel (1900 date system) serial day
_XLSX_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_XLSX_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XLSX_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_XLSX_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _xlsx_cells(column: pa.Array, letter: str, rows: pa.Array) -> pa.Array | None:
    """Every row's <c> element of one column ("" where null); None if the type is not handled."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if _has(column, _CONTROL):
            return None  # characters XML cannot hold: the openpyxl path raises its own error
        cell = _join(
            f'<c r="{letter}',
            rows,
            '" t="inlineStr"><is><t xml:space="preserve">',
            _xml_text(column.cast(pa.string())),
            "</t></is></c>",
        )
    elif pa.types.is_boolean(kind):
        cell = _join(
            f'<c r="{letter}',
            rows,
            '" t="b"><v>',
            column.cast(pa.int8()).cast(pa.string()),
            "</v></c>",
        )
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        if pa.types.is_floating(kind) and pc.any(pc.invert(pc.is_finite(column))).as_py():
            return None
        # Arrow prints the shortest text that reads back as the same double
        cell = _join(f'<c r="{letter}', rows, '"><v>', column.cast(pa.string()), "</v></c>")
    elif pa.types.is_date(kind):
        days = pc.add(column.cast(pa.date32()).cast(pa.int32()), _XLSX_EPOCH)
        cell = _join(f'<c r="{letter}', rows, '" s="1"><v>', days.cast(pa.string()), "</v></c>")
    else:
        return None
    return cell.fill_null("")


def _xlsx_package(sheet: str) -> dict[str, str]:
    """The workbook's other parts: content types, relationships, one sheet, a date style."""
    from xml.sax.saxutils import escape

    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    name = escape(sheet, {'"': "&quot;"})
    return {
        "[Content_Types].xml": head
        + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        + '<Default Extension="rels" '
        + 'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        + '<Default Extension="xml" ContentType="application/xml"/>'
        + f'<Override PartName="/xl/workbook.xml" ContentType="{_XLSX_CT}.sheet.main+xml"/>'
        + f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_XLSX_CT}.worksheet+xml"/>'
        + f'<Override PartName="/xl/styles.xml" ContentType="{_XLSX_CT}.styles+xml"/>'
        + "</Types>",
        "_rels/.rels": head
        + f'<Relationships xmlns="{_XLSX_PKG}"><Relationship Id="rId1" '
        + f'Type="{_XLSX_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": head
        + f'<workbook xmlns="{_XLSX_MAIN}" xmlns:r="{_XLSX_REL}"><sheets>'
        + f'<sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": head
        + f'<Relationships xmlns="{_XLSX_PKG}">'
        + f'<Relationship Id="rId1" Type="{_XLSX_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        + f'<Relationship Id="rId2" Type="{_XLSX_REL}/styles" Target="styles.xml"/>'
        + "</Relationships>",
        "xl/styles.xml": head
        + f'<styleSheet xmlns="{_XLSX_MAIN}">'
        + '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
        + '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        + '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        + '<fill><patternFill patternType="gray125"/></fill></fills>'
        + '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        + '<cellStyleXfs count="1">'
        + '<xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        + '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        + '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        + "</cellXfs>"
        + '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        + "</styleSheet>",
    }


def xlsx_file(
    path: Path, table: pa.Table, headers: dict[str, str], sheet: str, chunk: int = 100_000
) -> None:
    """One-sheet workbook: header row, then the rows (strings inline, dates as date cells).

    The sheet XML is built with Arrow string kernels a column at a time (~50x faster
    than openpyxl's per-cell writer, so the xlsx drops hold every row even at 10M
    people); tables with types it does not handle go through openpyxl.
    """
    import zipfile
    from xml.sax.saxutils import escape

    named = _renamed(table, headers)
    letters = [_column_letter(i) for i in range(named.num_columns)]
    if named.num_rows >= 1_048_576:
        raise ValueError(f"{path.name}: {named.num_rows:,} rows do not fit in one sheet")
    parts = []
    for start in range(0, max(named.num_rows, 1), chunk):
        part = named.slice(start, chunk).combine_chunks()
        rows = pa.array(np.arange(start + 2, start + 2 + part.num_rows)).cast(pa.string())
        cells = [
            _xlsx_cells(col.combine_chunks(), letter, rows)
            for col, letter in zip(part.columns, letters, strict=True)
        ]
        if any(c is None for c in cells):
            return _xlsx_openpyxl(path, named, sheet)
        parts.append(_join('<row r="', rows, '">', *cells, "</row>"))
    path.parent.mkdir(parents=True, exist_ok=True)
    first = "".join(
        f'<c r="{letter}1" t="inlineStr"><is><t xml:space="preserve">{escape(str(h))}</t></is></c>'
        for letter, h in zip(letters, named.column_names, strict=True)
    )
    last = f"{letters[-1] if letters else 'A'}{named.num_rows + 1}"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in _xlsx_package(sheet).items():
            zf.writestr(name, text)
        with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
            fh.write(
                (
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    f'<worksheet xmlns="{_XLSX_MAIN}"><dimension ref="A1:{last}"/>'
                    f'<sheetData><row r="1">{first}</row>'
                ).encode()
            )
            for rows_xml in parts:
                fh.write(_blob(rows_xml))
            fh.write(b"</sheetData></worksheet>")


def _xlsx_openpyxl(path: Path, named: pa.Table, sheet: str) -> None:
    from openpyxl import Workbook

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(named.column_names)
    for row in zip(*[c.to_pylist() for c in named.columns], strict=True):
        ws.append(list(row))
    wb.save(path)


def parquet_file(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _json_values(column: pa.Array) -> pa.Array | None:
    """Each value as JSON text (null as ``null``); None if the type is not handled."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if _has(column, _CONTROL):
            return None
        text = column.cast(pa.string())
        for char, escaped in (
            ("\\", "\\\\"),
            ('"', '\\"'),
            ("\n", "\\n"),
            ("\r", "\\r"),
            ("\t", "\\t"),
        ):
            text = pc.replace_substring(text, char, escaped)
        out = _join('"', text, '"')
    elif pa.types.is_boolean(kind):
        out = pc.if_else(column, "true", "false")
    elif pa.types.is_integer(kind):
        out = column.cast(pa.string())
    else:
        return None  # floats: Arrow prints 300.0 as 300 where json.dumps prints 300.0
    return out.fill_null("null")


def jsonl_file(path: Path, table: pa.Table, extra_lines: Sequence[str] = ()) -> None:
    """One JSON object a line, as ``json.dumps(row, ensure_ascii=False)`` writes them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = _text_for_sql(table).combine_chunks()
    columns = [_json_values(col.combine_chunks()) for col in table.columns]
    with path.open("wb") as fh:
        if any(c is None for c in columns) or not table.num_columns:
            for row in table.to_pylist():
                fh.write((json.dumps(row, ensure_ascii=False) + "\n").encode())
        elif table.num_rows:
            parts: list[pa.Array | str] = []
            for i, (name, values) in enumerate(zip(table.column_names, columns, strict=True)):
                key = json.dumps(name, ensure_ascii=False)
                parts += [("{" if i == 0 else ", ") + key + ": ", values]
            fh.write(_blob(_join(*parts, "}\n")))
        for line in extra_lines:
            fh.write((line + "\n").encode())


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
