"""Format readers shared by file drops and pushed uploads: CSV, xlsx, Parquet, JSON.

Every reader streams a file in batches, renames headers through the spec's
``columns:`` map, casts to the pinned schema and sends rows it cannot read
(wrong number of columns, undecodable bytes, bad JSON, uncastable values) to
the extraction's rejects with their line number.  CSV lives in
``connectors.csvfiles``.

Every reader first checks the header (``connectors.limits``: column count,
name length, duplicates) from the file's first bytes, bounds every line and
field, and decodes strictly (``connectors.textlines``): a line that does not
decode cleanly, or a UTF-8 line inside a GB18030/GBK file, is rejected with
its line number, never committed as mojibake.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import pyarrow as pa

from connectors.base import Extraction, row_numbers
from connectors.csvfiles import read_csv
from connectors.limits import ReadLimitError, ReadLimits, check_header_names, clean_name
from connectors.textlines import bounded_lines
from schemas.errors import SchemaDriftError

Opener = Callable[[], IO[bytes]]


@dataclass(frozen=True)
class ReadSpec:
    """How to read one file; built from a ``FilesConnector`` or a push request."""

    format: str  # csv | xlsx | parquet | jsonl | json
    encoding: str = "auto"
    delimiter: str = ","
    sheet: str | None = None
    header_row: int = 1
    columns: Mapping[str, str] = field(default_factory=dict)  # header -> field
    batch_rows: int = 65_536
    limits: ReadLimits = field(default_factory=ReadLimits.from_env)


def read_stream(
    ex: Extraction, resource: str, spec: ReadSpec, open_file: Opener, source: str
) -> Iterator[pa.RecordBatch]:
    """Batches of one file in the pinned schema (``open_file`` may be called twice)."""
    readers = {"csv": read_csv, "xlsx": _xlsx, "parquet": _parquet, "jsonl": _jsonl, "json": _json}
    if spec.format not in readers:
        raise SchemaDriftError(
            f"{source}: unknown format {spec.format!r}", hint=f"use one of {', '.join(readers)}"
        )
    limit = spec.limits.max_rows
    if limit is None:
        yield from readers[spec.format](ex, resource, spec, open_file, source)
        return
    rows = 0
    rejects = len(ex.rejects)
    for batch in readers[spec.format](ex, resource, spec, open_file, source):
        rows += batch.num_rows
        if rows + len(ex.rejects) - rejects > limit:
            raise ReadLimitError(
                f"{source}: more than {limit:,} rows",
                limit="max_rows",
                value=limit,
            )
        yield batch


def check_headers(
    ex: Extraction, resource: str, spec: ReadSpec, headers: list[str], source: str
) -> list[str]:
    """Field names for a file's headers; a field with no header is drift, named by header.

    Malformed headers (too many columns, overlong or repeated names) are refused
    first, in time linear in the header's size.
    """
    from connectors.cast import find_column
    from connectors.errors import ColumnDriftError

    names = check_header_names(headers, source, spec.limits, spec.columns)
    wanted = {f.name.lower() for f in ex.schema}
    extra = [h for h, n in zip(headers, names, strict=True) if n.lower() not in wanted]
    if extra:  # ignored, and reported with the run (docs/connectors.md: schema drift)
        ex.extra_columns[source] = [clean_name(h) for h in extra]
    back = {field: header for header, field in spec.columns.items()}
    for fld in ex.schema:
        if find_column(names, fld.name) is None:
            wanted = back.get(fld.name, fld.name)
            raise ColumnDriftError(
                resource,
                fld.name,
                str(fld.type),
                "no such column",
                detail=f"{source} has no header {wanted!r}; its headers: "
                + ", ".join(h.strip() for h in headers[:40]),
            )
    return names


def _cell_text(value: Any) -> str | None:
    import datetime as dt

    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    text = str(value)
    return text if text.strip() != "" else None


def _xlsx(
    ex: Extraction, resource: str, spec: ReadSpec, open_file: Opener, source: str
) -> Iterator[pa.RecordBatch]:
    from openpyxl import load_workbook

    with open_file() as f:
        wb = load_workbook(f, read_only=True, data_only=True)
        try:
            if spec.sheet is not None and spec.sheet not in wb.sheetnames:
                raise SchemaDriftError(
                    f"{source}: no sheet {spec.sheet!r}; the workbook has {', '.join(wb.sheetnames)}",
                    hint="fix the connector's 'sheet:' or the department's export",
                )
            ws = wb[spec.sheet] if spec.sheet is not None else wb.worksheets[0]
            it = ws.iter_rows(min_row=spec.header_row, values_only=True)
            header = next(it, None)
            if header is None:
                return
            width = len(header)
            while width and header[width - 1] is None:
                width -= 1
            headers = [_cell_text(h) or f"column_{i + 1}" for i, h in enumerate(header[:width])]
            names = check_headers(ex, resource, spec, headers, source)
            rows: list[list[str | None]] = []
            row_lines: list[int] = []
            for number, values in enumerate(it, start=spec.header_row + 1):
                cells = [_cell_text(v) for v in values]
                if all(c is None for c in cells):
                    continue
                if any(c is not None for c in cells[width:]):
                    ex.reject(
                        source,
                        number,
                        json.dumps(cells, ensure_ascii=False),
                        f"cells beyond the {width} header columns",
                    )
                    continue
                cells = (cells + [None] * width)[:width]
                rows.append(cells)
                row_lines.append(number)
                if len(rows) >= spec.batch_rows:
                    yield _cells_batch(ex, resource, source, names, rows, row_lines)
                    rows, row_lines = [], []
            if rows:
                yield _cells_batch(ex, resource, source, names, rows, row_lines)
        finally:
            wb.close()


def _cells_batch(
    ex: Extraction,
    resource: str,
    source: str,
    names: list[str],
    rows: list[list[str | None]],
    row_lines: list[int],
) -> pa.RecordBatch:
    arrays = [pa.array(list(col), pa.string()) for col in zip(*rows, strict=True)]
    raw = pa.RecordBatch.from_arrays(arrays, names=names)
    return ex.cast(raw, resource, source=source, lines=row_lines.__getitem__)


def _parquet(
    ex: Extraction, resource: str, spec: ReadSpec, open_file: Opener, source: str
) -> Iterator[pa.RecordBatch]:
    import pyarrow.parquet as pq

    with open_file() as f:
        pf = pq.ParquetFile(f)
        names = check_headers(ex, resource, spec, pf.schema_arrow.names, source)
        offset = 0
        for raw in pf.iter_batches(batch_size=spec.batch_rows):
            raw = raw.rename_columns(names)
            yield ex.cast(raw, resource, source=source, lines=row_numbers(offset))
            offset += raw.num_rows


def _jsonl(
    ex: Extraction, resource: str, spec: ReadSpec, open_file: Opener, source: str
) -> Iterator[pa.RecordBatch]:
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    limit = spec.limits.max_line_bytes
    with open_file() as f:
        for number, raw in bounded_lines(f, limit):
            if raw is None:
                ex.reject(
                    source,
                    number,
                    "",
                    f"line longer than {limit:,} bytes (limit ONESOURCE_READ_MAX_LINE_BYTES)",
                )
                continue
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except RecursionError:
                raise SchemaDriftError(
                    f"{source}: line {number}: JSON nested too deeply to read",
                    hint="records are flat objects; fix the export and send the file again",
                ) from None
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                ex.reject(source, number, text, f"not valid JSON: {exc}")
                continue
            if not isinstance(record, dict):
                ex.reject(
                    source, number, raw.decode("utf-8", "replace").strip(), "not a JSON object"
                )
                continue
            records.append(record)
            numbers.append(number)
            if len(records) >= spec.batch_rows:
                yield records_batch(ex, resource, source, records, numbers, spec.columns)
                records, numbers = [], []
    if records:
        yield records_batch(ex, resource, source, records, numbers, spec.columns)


def _json(
    ex: Extraction, resource: str, spec: ReadSpec, open_file: Opener, source: str
) -> Iterator[pa.RecordBatch]:
    with open_file() as f:
        try:
            data = json.load(f)
        except RecursionError:
            raise SchemaDriftError(
                f"{source}: JSON nested too deeply to read",
                hint="records are flat objects; fix the export and send the file again",
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SchemaDriftError(f"{source}: not valid JSON ({exc})") from None
    if isinstance(data, dict):
        data = next(
            (data[k] for k in ("data", "records", "items") if isinstance(data.get(k), list)), None
        )
    if not isinstance(data, list):
        raise SchemaDriftError(
            f"{source}: expected a JSON array of records (or an object with 'data', 'records' or 'items')"
        )
    for start in range(0, len(data), spec.batch_rows):
        chunk = data[start : start + spec.batch_rows]
        good = [(i, r) for i, r in enumerate(chunk, start=start + 1) if isinstance(r, dict)]
        for i, r in enumerate(chunk, start=start + 1):
            if not isinstance(r, dict):
                ex.reject(source, i, json.dumps(r, ensure_ascii=False), "not a JSON object")
        if good:
            numbers, records = zip(*good, strict=True)
            yield records_batch(ex, resource, source, list(records), list(numbers), spec.columns)


def records_batch(
    ex: Extraction,
    resource: str,
    source: str,
    records: list[dict[str, Any]],
    numbers: list[int],
    columns: Mapping[str, str] | None = None,
) -> pa.RecordBatch:
    """JSON records -> a batch in the pinned schema; absent keys are nulls."""
    back = {field: key for key, field in (columns or {}).items()}
    arrays: list[pa.Array] = []
    names: list[str] = []
    present = set().union(*(r.keys() for r in records)) if records else set()
    for fld in ex.schema:
        key = back.get(fld.name, fld.name)
        if key not in present:
            continue  # absent everywhere in this batch: a null column or drift (cast decides)
        arrays.append(_values_array([r.get(key) for r in records]))
        names.append(fld.name)
    raw = pa.RecordBatch.from_arrays(arrays, names=names) if arrays else _empty(len(records))
    return ex.cast(raw, resource, source=source, lines=numbers.__getitem__, allow_missing=True)


def _empty(rows: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.nulls(rows)], names=["__rows__"])


def _values_array(values: list[Any]) -> pa.Array:
    """An Arrow array from JSON values; mixed or nested values become text."""
    try:
        arr = pa.array(values)
        if not (pa.types.is_struct(arr.type) or pa.types.is_list(arr.type)):
            return arr
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    return pa.array(
        [
            None
            if v is None
            else json.dumps(v, ensure_ascii=False)
            if isinstance(v, dict | list)
            else ("true" if v is True else "false" if v is False else str(v))
            for v in values
        ],
        pa.string(),
    )
