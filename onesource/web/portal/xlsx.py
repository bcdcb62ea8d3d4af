"""The xlsx download of a table release, written on request from its ``data.parquet``.

XlsxWriter in ``constant_memory`` mode writes each row to a temporary file as it comes,
so memory stays bounded whatever the release's size; batches of the Parquet file are
read one at a time.  (openpyxl, already a dependency, wrote ~14k cells/s here without
lxml: a million-row release would take many minutes.)  Cells are written by type:
text columns as text cells (district "01" keeps its leading zero, a code never turns
into a number), numbers as numbers, dates as dates; never a formula.  Formula-like
text is also neutralised exactly as in ``data.csv`` (a leading ``'``,
:func:`onesource.release.publish.neutralize_formulas`), so that editing a cell in a
spreadsheet does not run it either.  Excel sheets hold 1,048,576 rows: a larger release
is refused, never cut short.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from onesource.web.portal.columns import Column
from schemas.errors import TerminalError, TransientError

EXCEL_MAX_ROWS = 1_048_576  # the header row included
EXACT_INT = 2**53  # larger integers lose digits as Excel numbers: written as text


class TooManyRowsForExcel(TerminalError):
    """The release has more rows than an Excel sheet can hold (answered 422)."""

    code = "too-many-rows-for-excel"


def check_rows(name: str, version: int, rows: int) -> None:
    """Refuse before any work when ``rows`` (+ the header) do not fit in one sheet."""
    if rows + 1 > EXCEL_MAX_ROWS:
        raise TooManyRowsForExcel(
            f"data.xlsx of {name!r} v{version} is not offered: its {rows:,} rows exceed "
            f"Excel's limit of {EXCEL_MAX_ROWS:,} rows per sheet (header included)",
            hint="download data.csv or data.parquet instead",
        )


def safe_text(text: str) -> str:
    """``text`` as a spreadsheet shows it, never runs it: formula-like starts get a ``'``."""
    import re

    from onesource.release.publish import FORMULA_START

    return "'" + text if re.match(FORMULA_START, text) else text


def _writer(sheet: Any, kind: pa.DataType, date_format: Any) -> Callable[[int, int, Any], Any]:
    """The typed cell writer for a column of Arrow type ``kind`` (nulls are left blank)."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_boolean(kind):
        return sheet.write_boolean  # type: ignore[no-any-return]
    if pa.types.is_integer(kind):

        def integer(row: int, col: int, value: int) -> Any:
            if abs(value) >= EXACT_INT:  # beyond a double's 53 bits: as text, every digit kept
                return sheet.write_string(row, col, str(value))
            return sheet.write_number(row, col, value)

        return integer
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return lambda row, col, value: sheet.write_number(
            row, col, float(value) if isinstance(value, decimal.Decimal) else value
        )
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):

        def when(row: int, col: int, value: dt.date) -> Any:
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                value = value.astimezone(dt.UTC).replace(tzinfo=None)  # Excel has no zones
            return sheet.write_datetime(row, col, value, date_format)

        return when
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return sheet.write_string  # type: ignore[no-any-return]
    return lambda row, col, value: sheet.write_string(row, col, str(value))


def write(
    batches: Iterable[pa.RecordBatch],
    cols: list[Column],
    header: list[str],
    out: IO[bytes],
    *,
    lang: str = "zh",
) -> int:
    """Write the rows of ``batches`` under ``header`` to ``out`` with a second sheet
    describing the columns; returns the number of data rows written."""
    import xlsxwriter

    from onesource.release.publish import neutralize_formulas

    en = lang == "en"
    book = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "tmpdir": tempfile.gettempdir(),
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "nan_inf_to_errors": True,
        },
    )
    bold = book.add_format({"bold": True})
    dates = {
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
    }
    sheet = book.add_worksheet("data" if en else "数据")
    for i, (col, head) in enumerate(zip(cols, header, strict=True)):
        sheet.set_column(i, i, min(40, max(8, 2 * len(head), len(col.name) + 2)))
        sheet.write_string(0, i, safe_text(head), bold)
    sheet.freeze_panes(1, 0)
    rows = 0
    writers: list[Callable[[int, int, Any], Any]] | None = None
    for batch in batches:
        table = neutralize_formulas(pa.Table.from_batches([batch]))
        if writers is None:
            writers = [
                _writer(
                    sheet, table.schema.field(c.name).type, dates.get(c.type, dates["datetime"])
                )
                for c in cols
            ]
        values = [table.column(c.name).to_pylist() for c in cols]
        # row by row: constant_memory keeps only the current row open
        for r, row in enumerate(zip(*values, strict=True), start=rows + 1):
            for j, value in enumerate(row):
                if value is not None:
                    writers[j](r, j, value)
        rows += table.num_rows
    about = book.add_worksheet("columns" if en else "字段说明")
    titles = (
        ["field", "title", "type", "technique", "description", "codes"]
        if en
        else ["字段", "名称", "类型", "处理方式", "说明", "代码"]
    )
    for j, t in enumerate(titles):
        about.write_string(0, j, t, bold)
    for r, c in enumerate(cols, start=1):
        codes = "; ".join(f"{k}={v}" for k, v in c.codes.items())
        for j, v in enumerate(
            (c.name, c.title, c.type_label, c.technique_label, c.description, codes)
        ):
            if v:
                about.write_string(r, j, safe_text(v))
    book.close()
    return rows


# Building a workbook costs CPU for seconds to minutes (a million rows: about two minutes),
# so anyone could keep the server busy by asking again and again: open releases' workbooks
# are kept on disk per version (versions never change), a workbook is built by one request
# at a time, and at most MAX_BUILDS are built at once; other requests get 503 + Retry-After.
MAX_BUILDS = 2
CACHE_FILES = 32
_BUILDS_LOCK = threading.Lock()
_building: set[str] = set()


class WorkbookBusy(TransientError):
    """Workbooks are being built: ask again shortly (answered 503 with Retry-After)."""

    code = "xlsx-busy"


@contextmanager
def build_slot(key: str) -> Iterator[None]:
    """Hold one of the ``MAX_BUILDS`` build slots for workbook ``key``, or refuse at once."""
    with _BUILDS_LOCK:
        if key in _building or len(_building) >= MAX_BUILDS:
            raise WorkbookBusy(
                "data.xlsx is being prepared for other requests; ask again in a few seconds",
                hint="data.csv and data.parquet are always available at once",
            )
        _building.add(key)
    try:
        yield
    finally:
        with _BUILDS_LOCK:
            _building.discard(key)


def cached(folder: Path, key: str, build: Callable[[IO[bytes]], object]) -> int:
    """A read-only descriptor of workbook ``key`` in ``folder``, built by ``build`` if absent.

    Written under a temporary name and renamed into place: a reader never sees half a file.
    """
    path = folder / f"{key}.xlsx"
    try:
        fd = os.open(path, os.O_RDONLY)
        os.utime(path)  # recently used: kept by the pruning below
        return fd
    except FileNotFoundError:
        pass
    with build_slot(key):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        part = folder / f"{key}.{os.getpid()}.{threading.get_ident()}.part"
        try:
            with open(part, "wb") as out:
                build(out)
            os.replace(part, path)
        except BaseException:
            with suppress(FileNotFoundError):
                part.unlink()
            raise
        fd = os.open(path, os.O_RDONLY)
    _prune(folder)
    return fd


def _prune(folder: Path) -> None:
    books = []
    for p in folder.glob("*.xlsx"):
        with suppress(FileNotFoundError):
            books.append((p.stat().st_mtime, p))
    for _, p in sorted(books, reverse=True)[CACHE_FILES:]:
        with suppress(FileNotFoundError):
            p.unlink()  # an open descriptor keeps serving the unlinked file
