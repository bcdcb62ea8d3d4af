"""FilesSource: CSV in UTF-8 / BOM / GBK with Chinese headers, xlsx, Parquet, JSON lines;
malformed rows to rejects with line numbers; identical files processed once."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.base import SourceState
from connectors.errors import ColumnDriftError
from connectors.files import FilesSource
from schemas.errors import SchemaDriftError, SourceUnavailableError

HEADER = "学籍号,身份证号,姓名,性别,学校,年级,入学日期,户籍区划"
ROWS = [
    "S0001,330102201001010011,张三,1,清河一小,3,2019-09-01,330102",
    "S0002,330102201002020022,李四,2,清河一小,4,2018/9/1,330102",
    "S0003,330102201003030033,王五,1,清河二小,5,,330103",
]


def csv_bytes(encoding: str, rows: list[str] | None = None) -> bytes:
    text = "\n".join([HEADER, *(ROWS if rows is None else rows)]) + "\n"
    return text.encode(encoding)


@pytest.fixture
def drop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    for conn in ("edu_drop", "civil_drop", "grid_drop", "dsj_drop"):
        monkeypatch.setenv(f"ONESOURCE_CONN_{conn.upper()}", f"file://{folder}")
    return folder


def run(retarget: Any, name: str, state: SourceState | None = None, **changes: Any) -> Any:
    res, schema = retarget(name, **changes)
    ex = FilesSource().extract(res, schema, state or SourceState())
    return ex, ex.read_all()


@pytest.mark.parametrize(
    "encoding,declared",
    [
        ("utf-8", "auto"),
        ("utf-8-sig", "auto"),
        ("gbk", "auto"),
        ("gb18030", "gbk"),
        ("utf-8-sig", "utf-8-sig"),
    ],
    ids=["utf8-auto", "bom-auto", "gbk-auto", "gb18030-declared-gbk", "bom-declared"],
)
def test_csv_encodings_and_chinese_headers(
    drop: Path, retarget: Any, encoding: str, declared: str
) -> None:
    (drop / "students.csv").write_bytes(csv_bytes(encoding))
    ex, table = run(retarget, "students", encoding=declared)
    assert table.num_rows == 3 and not ex.rejects
    assert table.column("name").to_pylist() == ["张三", "李四", "王五"]
    assert table.column("grade").to_pylist() == [3, 4, 5]
    assert table.column("enrolled_on").to_pylist() == [
        dt.date(2019, 9, 1),
        dt.date(2018, 9, 1),
        None,
    ]
    assert [f.rows for f in ex.files] == [3]


def test_malformed_rows_go_to_rejects_with_line_numbers(drop: Path, retarget: Any) -> None:
    rows = [
        ROWS[0],
        "S0009,330102,缺列",  # wrong number of columns: line 3
        ROWS[1],
        "S0010,330102201001010099,赵六,1,清河一小,三年级,2019-09-01,330102",  # bad int: line 5
        "",
        ROWS[2],
    ]
    data = csv_bytes("gbk", rows) + b"S0011,330102," + b"\xff\xfe" + b",1,x,1,,330102\n"
    (drop / "students.csv").write_bytes(data)
    progress: list[int] = []
    ex, table = run(retarget, "students", SourceState(progress=progress.append))
    assert table.column("student_number").to_pylist() == ["S0001", "S0002", "S0003"]
    found = {(r.line, r.reason.split(" ")[0]) for r in ex.rejects}
    assert found == {(3, "3"), (5, "column"), (8, "undecodable")}
    assert all(r.source.endswith("students.csv") for r in ex.rejects)
    assert "三年级" in next(r.raw for r in ex.rejects if r.line == 5)
    assert sum(progress) == 3


def test_identical_redrop_is_skipped(drop: Path, retarget: Any) -> None:
    (drop / "a.csv").write_bytes(csv_bytes("gbk"))
    ex, table = run(retarget, "students")
    processed = {f.sha256 for f in ex.files}
    (drop / "b_again.csv").write_bytes(csv_bytes("gbk"))  # same content, new name
    ex, table = run(retarget, "students", SourceState(seen=processed.__contains__))
    assert table.num_rows == 0 and not ex.files
    assert sorted(Path(f.path).name for f in ex.skipped) == ["a.csv", "b_again.csv"]


def test_missing_header_is_drift(drop: Path, retarget: Any) -> None:
    (drop / "s.csv").write_bytes(
        csv_bytes("gbk").replace("年级".encode("gbk"), "班级".encode("gbk"))
    )
    ex, table = run(retarget, "students")
    (q,) = ex.quarantined  # the file is refused whole, naming the column and both headers
    assert table.num_rows == 0 and q.path.endswith("s.csv")
    assert "'grade'" in q.reason and "年级" in q.reason and "班级" in q.reason
    assert q.reason.startswith(f"[{ColumnDriftError.code}]")


def test_xlsx_sheet_by_name(drop: Path, retarget: Any) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "说明"
    wb.active.append(["本表为每月救助对象名册"])
    ws = wb.create_sheet("救助对象")
    ws.append(["身份证号", "姓名", "救助类型", "月救助金额", "户籍区划", "困难情况"])
    ws.append(["330102195001010011", "张三", "dibao", 850.5, 330102, "因病"])
    ws.append([None])  # a blank row is skipped, not an error
    ws.append(["330102195002020022", "李四", "tekun", "不详", 330103, None])
    ws.append(["330102195003030033", "王五", "linshi", 1200, "330104", None])
    wb.save(drop / "assistance.xlsx")
    ex, table = run(retarget, "social_assistance")
    assert table.column("household_division").to_pylist() == ["330102", "330104"]
    assert [str(v) for v in table.column("monthly_amount").to_pylist()] == ["850.50", "1200.00"]
    assert [(r.line, "不详" in r.raw) for r in ex.rejects] == [(4, True)]  # sheet row 4

    ex, table = run(retarget, "social_assistance", sheet="救助对象2")
    (q,) = ex.quarantined
    assert table.num_rows == 0 and "救助对象" in q.reason
    assert q.reason.startswith(f"[{SchemaDriftError.code}]")


def test_parquet(drop: Path, retarget: Any) -> None:
    table = pa.table(
        {
            "event_number": ["E1", "E2"],
            "event_type": ["garbage", "noise"],
            "division": pa.array([330102, 330103]),  # codes as numbers: cast to text
            "reported_at": pa.array(
                [dt.datetime(2024, 5, 1, 8), dt.datetime(2024, 5, 2, 9)], pa.timestamp("ns")
            ),
            "resolved": [True, False],
            "ignored": [1, 2],
        }
    )
    pq.write_table(table, drop / "events.parquet")
    ex, out = run(retarget, "grid_events")
    assert out.column("division").to_pylist() == ["330102", "330103"]
    assert out.schema.field("reported_at").type == pa.timestamp("us") and not ex.rejects


def test_jsonl_bad_line_and_missing_optional_keys(drop: Path, retarget: Any) -> None:
    lines = [
        {
            "ticket_number": "T1",
            "category": "noise",
            "division": "330102",
            "created_at": "2024-05-01 08:00:00",
            "status": "open",
            "content": "噪音",
        },
        "{not json",
        {
            "ticket_number": "T2",
            "category": "road",
            "division": 330103,
            "created_at": "2024-05-02T09:30:00",
            "status": "closed",
        },
    ]
    text = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
    (drop / "tickets.jsonl").write_text(text + "\n", encoding="utf-8")
    ex, table = run(retarget, "hotline_tickets")
    assert table.column("ticket_number").to_pylist() == ["T1", "T2"]
    assert table.column("content").to_pylist() == ["噪音", None]
    assert [(r.line, r.raw) for r in ex.rejects] == [(2, "{not json")]


def test_memory_filesystem(retarget: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/edu_t/students.csv", csv_bytes("gbk"))
    monkeypatch.setenv("ONESOURCE_CONN_EDU_DROP", "memory://edu_t")
    try:
        ex, table = run(retarget, "students")
        assert table.num_rows == 3 and ex.files[0].path == "memory://edu_t/students.csv"
    finally:
        fs.rm("/edu_t", recursive=True)


def test_missing_drop_folder_is_transient(
    tmp_path: Path, retarget: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONESOURCE_CONN_EDU_DROP", f"file://{tmp_path / 'nope'}")
    with pytest.raises(SourceUnavailableError, match="edu_drop"):
        run(retarget, "students")


@pytest.mark.parametrize(
    "name,retargeted,pattern,fmt",
    [
        ("events_broken.parquet", "grid_events", "*.parquet", "parquet"),
        ("assistance_broken.xlsx", "social_assistance", "*.xlsx", "xlsx"),
    ],
    ids=["parquet", "xlsx"],
)
def test_a_corrupt_file_is_quarantined_by_name_beside_good_ones(
    drop: Path, retarget: Any, name: str, retargeted: str, pattern: str, fmt: str
) -> None:
    if fmt == "parquet":
        good = pa.table(
            {
                "event_number": ["E1"],
                "event_type": ["noise"],
                "division": ["330102"],
                "reported_at": [dt.datetime(2024, 5, 1, 8)],
                "resolved": [True],
            }
        )
        pq.write_table(good, drop / "a_good.parquet")
        (drop / name).write_bytes(b"PAR1" + b"\x00" * 64 + b"garbage")  # no footer
    else:
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "救助对象"
        ws.append(["身份证号", "姓名", "救助类型", "月救助金额", "户籍区划", "困难情况"])
        ws.append(["330102195001010011", "张三", "dibao", 850.5, 330102, "因病"])
        wb.save(drop / "a_good.xlsx")
        (drop / name).write_bytes(b"PK\x03\x04 this is not a zip file")
    ex, table = run(retarget, retargeted)
    assert table.num_rows == 1 and [Path(f.path).name for f in ex.files] == [f"a_good.{fmt}"]
    (q,) = ex.quarantined
    assert q.path.endswith(name) and q.reason and q.sha256 and q.size > 0


def test_a_file_failing_half_way_contributes_no_rows(drop: Path, retarget: Any) -> None:
    # the 2nd file's rows are fine up to a line that breaks the whole file (a runaway field)
    (drop / "a.csv").write_bytes(csv_bytes("utf-8"))
    rows = [*ROWS, "S0009,330102201001010011," + "x" * 2_000_000 + ",1,x,3,,330102"]
    (drop / "b.csv").write_bytes(csv_bytes("utf-8", rows).replace(b"S0001", b"S0101"))
    ex, table = run(retarget, "students")
    assert table["student_number"].to_pylist() == ["S0001", "S0002", "S0003"]
    (q,) = ex.quarantined
    assert q.path.endswith("b.csv") and "line 5" in q.reason
