"""The xlsx download of a table release, written on request from its ``data.parquet``.

openpyxl's write-only workbook streams rows to a temporary file, so memory stays
bounded whatever the release's size; batches of the Parquet file are read one at a
time.  Text columns are written as text cells (district "01" keeps its leading zero),
numbers as numbers, dates as dates.  Formula-like text is neutralised exactly as in
``data.csv`` (a leading ``'``, :func:`onesource.release.publish.neutralize_formulas`).
Excel sheets hold 1,048,576 rows: a larger release is refused, never cut short.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import IO, Any

import pyarrow as pa

from onesource.web.portal.columns import Column
from schemas.errors import TerminalError

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


def _cell(value: Any) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):  # formula-like text was neutralised batch by batch
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and abs(value) >= EXACT_INT:
        return str(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)  # Excel has no time zones
    if isinstance(value, dt.time | dt.timedelta | bytes):
        return str(value)
    return value


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
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    from onesource.release.publish import neutralize_formulas

    en = lang == "en"
    book = Workbook(write_only=True)
    sheet = book.create_sheet("data" if en else "数据")
    for i, (col, head) in enumerate(zip(cols, header, strict=True), start=1):
        sheet.column_dimensions[get_column_letter(i)].width = min(
            40, max(8, 2 * len(head), len(col.name) + 2)
        )
    sheet.freeze_panes = "A2"
    sheet.append([safe_text(h) for h in header])
    rows = 0
    for batch in batches:
        table = neutralize_formulas(pa.Table.from_batches([batch]))
        columns = [table.column(c.name).to_pylist() for c in cols]
        for row in zip(*columns, strict=True):
            sheet.append([_cell(v) for v in row])
        rows += table.num_rows
    about = book.create_sheet("columns" if en else "字段说明")
    about.append(
        ["field", "title", "type", "technique", "description", "codes"]
        if en
        else ["字段", "名称", "类型", "处理方式", "说明", "代码"]
    )
    for c in cols:
        codes = "; ".join(f"{k}={v}" for k, v in c.codes.items())
        about.append(
            [
                safe_text(v) if v else None
                for v in (c.name, c.title, c.type_label, c.technique_label, c.description, codes)
            ]
        )
    book.save(out)
    return rows
