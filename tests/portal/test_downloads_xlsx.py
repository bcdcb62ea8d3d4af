"""data.xlsx: text stays text (leading zeros), formulas never run, Excel's row limit refused
in the error envelope, restricted data behind the key; read back with openpyxl."""

from __future__ import annotations

import datetime as dt
import io

import pyarrow as pa
import pytest

from onesource.web.portal import xlsx
from onesource.web.portal.columns import Column
from tests.portal.keys import approved_key


def _col(name: str, kind: str = "string", title: str | None = None) -> Column:
    return Column(name, title or name, kind, kind, "keep", "保留")


def _load(data: bytes):  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(data), read_only=True)


def test_text_cells_keep_leading_zeros_and_formulas_are_neutralised() -> None:
    table = pa.table(
        {
            "district": ["01", "007", None],
            "note": ['=HYPERLINK("http://x")', "+1", "@SUM(A1)"],
            "n": pa.array([1, 2**60, None], pa.int64()),
            "on": pa.array([dt.date(2026, 1, 2), None, dt.date(2026, 3, 4)]),
            "ok": [True, False, None],
        }
    )
    cols = [_col("district"), _col("note"), _col("n", "integer"), _col("on", "date"), _col("ok")]
    out = io.BytesIO()
    written = xlsx.write(
        table.to_batches(max_chunksize=2), cols, ["区划", "备注", "数", "日", "是"], out
    )
    assert written == 3
    sheet = _load(out.getvalue()).worksheets[0]
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == ["区划", "备注", "数", "日", "是"]
    first, second = rows[1], rows[2]
    assert first[0].value == "01" and first[0].data_type == "s"
    assert second[0].value == "007" and second[0].data_type == "s"
    assert first[1].value == '\'=HYPERLINK("http://x")' and first[1].data_type == "s"
    assert {second[1].value, rows[3][1].value} == {"'+1", "'@SUM(A1)"}
    assert first[2].data_type == "n" and second[2].value == str(2**60)  # no lost digits
    assert first[3].value.date() == dt.date(2026, 1, 2) and first[4].value is True


def test_excel_row_limit_is_refused_before_any_work() -> None:
    xlsx.check_rows("x", 1, xlsx.EXCEL_MAX_ROWS - 1)  # fits with its header row
    with pytest.raises(xlsx.TooManyRowsForExcel, match="1,048,576"):
        xlsx.check_rows("x", 1, xlsx.EXCEL_MAX_ROWS)


def test_xlsx_download_reads_back_as_text(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/datasets/business_register_open/download/data.xlsx")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="business_register_open-v1-data.xlsx"' in r.headers["content-disposition"]
    book = _load(r.content)
    rows = list(book.worksheets[0].iter_rows(max_row=50))
    header = [c.value for c in rows[0]]
    assert header[:2] == ["统一社会信用代码", "市场主体名称"]  # titles by default
    division = header.index("登记机关区划")
    assert all(row[division].data_type == "s" for row in rows[1:])
    assert book.sheetnames == ["数据", "字段说明"]
    named = client.get("/datasets/business_register_open/download/data.xlsx?header=name")
    assert [c.value for c in next(_load(named.content).worksheets[0].iter_rows())][
        0
    ] == "credit_code"
    again = client.get(
        "/datasets/business_register_open/download/data.xlsx",
        headers={"if-none-match": r.headers["etag"]},
    )
    assert again.status_code == 304


def test_too_many_rows_answers_the_error_envelope(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(xlsx, "EXCEL_MAX_ROWS", 100)
    r = client.get("/datasets/business_register_open/download/data.xlsx")
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "too-many-rows-for-excel" and "data.csv" in error["message"]


def test_restricted_xlsx_needs_the_key_and_stays_private(client) -> None:  # type: ignore[no-untyped-def]
    url = "/datasets/appointments_research/download/data.xlsx"
    assert client.get(url).status_code == 401
    key = approved_key(client, ["appointments_research"])
    r = client.get(url, headers={"x-consumer-key": key})
    assert r.status_code == 200 and "no-store" in r.headers["cache-control"]
    sheet = _load(r.content).worksheets[0]
    header = [c.value for c in next(sheet.iter_rows())]
    department = header.index("就诊科室")
    cells = [row[department] for row in sheet.iter_rows(min_row=2, max_row=200)]
    assert all(c.data_type == "s" and len(c.value) == 2 for c in cells)
    assert any(c.value.startswith("0") for c in cells)  # "01".."08" keep their zero


def test_repeated_requests_do_not_rebuild_the_workbook(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The attack: ask for a large workbook again and again to keep the CPU busy."""
    builds: list[int] = []
    real = xlsx.write

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        builds.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(xlsx, "write", counting)
    url = "/datasets/grid_events_open/download/data.xlsx"
    first = client.get(url, params={"lang": "en"})
    for _ in range(3):
        again = client.get(url, params={"lang": "en"})
        assert again.status_code == 200 and again.content == first.content
    assert len(builds) <= 1  # built once (or already cached by an earlier test)


def test_builds_beyond_the_limit_answer_503_with_retry_after(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(xlsx, "MAX_BUILDS", 0)  # every slot taken by other requests
    r = client.get("/datasets/grid_events_open/download/data.xlsx?header=name&lang=zh")
    assert r.status_code == 503 and r.headers["retry-after"]
    assert r.json()["error"]["code"] == "xlsx-busy"
