"""Drop folders: each file judged on its own, corrected files read again, schema drift
named, and one set of counts across the ingest summary, the quality report, versions and runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onesource.catalog.loader import load_catalog
from onesource.pipeline.ingest import ingest
from onesource.store import Store
from schemas.identifiers import id_check_char

REPO = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(REPO / "catalog").raise_for_issues()
HEAD = ["学籍号", "身份证号", "姓名", "性别", "学校", "年级", "入学日期", "户籍区划"]


def person_id(i: int) -> str:
    body = f"33990220100101{i:03d}"
    return body + id_check_char(body)


def row(i: int, grade: str = "3", name: str | None = None) -> list[str]:
    return [
        f"S{i:05d}",
        person_id(i),
        name or f"学生{i}",
        "1",
        "清河一小",
        grade,
        "2019-09-01",
        "339902",
    ]


def write_csv(path: Path, rows: list[list[str]], head: list[str] = HEAD) -> None:
    text = "\n".join(",".join(r) for r in [head, *rows]) + "\n"
    path.write_bytes(text.encode("utf-8"))


@pytest.fixture
def drop(hub_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = hub_home / "edu_drop"
    folder.mkdir()
    monkeypatch.setenv("ONESOURCE_CONN_EDU_DROP", f"file://{folder}")
    return folder


def run() -> object:
    return ingest("students", catalog=CATALOG)


def test_one_bad_file_does_not_hold_back_the_good_ones(drop: Path) -> None:
    write_csv(drop / "a_good.csv", [row(i) for i in range(5)])
    write_csv(
        drop / "b_missing.csv", [r[:5] + r[6:] for r in (row(10), row(11))], HEAD[:5] + HEAD[6:]
    )
    (drop / "c_junk.csv").write_bytes(b"\x00\x01PK\x03\x04" * 100)
    store = Store.open()
    first = run()
    assert first.status == "succeeded", first.error
    assert store.read("resource", "students").num_rows == 5
    bad = {Path(q["file"]).name: q["reason"] for q in first.files_quarantined}
    assert set(bad) == {"b_missing.csv", "c_junk.csv"}
    assert "grade" in bad["b_missing.csv"] and "年级" in bad["b_missing.csv"]
    # recorded in the run's quality report, with path and reason
    report = store.quality("students", limit=1)[0]["summary"]
    assert {Path(q["file"]).name for q in report["files_quarantined"]} == set(bad)
    assert all(q["reason"] for q in report["files_quarantined"])
    # not retried until it changes
    assert run().status == "unchanged"
    # the department fixes the file under the same name: read again
    write_csv(drop / "b_missing.csv", [row(10), row(11)])
    third = run()
    assert third.status == "succeeded" and third.rows_read == 2, third.error
    assert store.read("resource", "students").num_rows == 7


def test_only_bad_files_is_a_rejected_run_naming_them(drop: Path) -> None:
    (drop / "junk.csv").write_bytes(b"\xff\xfe\x00garbage")
    result = run()
    assert result.status == "rejected" and "junk.csv" in (result.error or "")
    store = Store.open()
    assert store.current("resource", "students") is None
    assert store.run(result.run_id).status == "rejected"
    again = run()  # not retried until it changes
    assert (again.status, again.files_skipped, again.rows_read) == ("unchanged", 1, 0)


def test_corrected_file_with_the_same_name_is_read_again(drop: Path) -> None:
    write_csv(drop / "students.csv", [row(i) for i in range(4)])
    store = Store.open()
    assert run().status == "succeeded"
    # corrected rows and an extra column, same file name
    fixed = [row(i, name="改正" if i == 2 else None) + ["备注"] for i in range(4)]
    write_csv(drop / "students.csv", fixed, [*HEAD, "备注"])
    second = run()
    assert (second.status, second.rows_read) == ("succeeded", 4), second.error
    names = store.read("resource", "students")["name"].to_pylist()
    assert "改正" in names and names.count("改正") == 1
    # the extra column was ignored, and reported
    extra = second.report["extra_columns"]
    assert [(Path(k).name, v) for k, v in extra.items()] == [("students.csv", ["备注"])]


def test_retyped_required_column_refuses_the_file_naming_path_and_column(drop: Path) -> None:
    write_csv(drop / "retyped.csv", [row(i, grade="三年级") for i in range(6)])
    result = run()
    (q,) = result.files_quarantined
    assert q["file"].endswith("retyped.csv") and "'grade'" in q["reason"]
    assert result.status == "rejected"


def test_one_set_of_counts_everywhere(drop: Path) -> None:
    # 40 rows: 3 failures (7.5 %) stay under the 10 % threshold, unparsable rows included
    rows = [row(i) for i in range(40)]
    rows[3][5] = "九十九"  # unparsable: grade is an integer
    rows[7] = rows[7][:4]  # unparsable: too few columns
    rows[9][5] = "40"  # read, but fails the grade_range check: quarantined
    write_csv(drop / "s.csv", rows)
    store = Store.open()
    result = run()
    assert result.status == "succeeded", result.error
    assert (result.rows_read, result.rows_good, result.rows_quarantined, result.rows_unparsed) == (
        40,
        37,
        1,
        2,
    )
    run_info = store.run(result.run_id)
    assert (run_info.rows_read, run_info.rows_good, run_info.rows_quarantined) == (40, 37, 1)
    assert run_info.rows_unparsable == 2
    summary = store.quality("students", limit=1)[0]["summary"]
    assert (
        summary["rows_read"],
        summary["rows_good"],
        summary["rows_quarantined"],
        summary["rows_unparsable"],
    ) == (40, 37, 1, 2)
    version = store.current("resource", "students")
    assert version.row_count == 37
    q = version.stats["quality"]
    assert (q["rows_read"], q["rows_good"], q["rows_quarantined"], q["rows_unparsable"]) == (
        40,
        37,
        1,
        2,
    )
    listed = {(Path(u["file"]).name, u["line"], u["column"]) for u in summary["unparsable"]}
    assert listed == {("s.csv", 5, "grade"), ("s.csv", 9, None)}
    assert all(u["reason"] for u in summary["unparsable"])
    # the printed summary says the same
    text = result.summary()
    assert "40 read, 37 good, 1 quarantined" in text and "2 unparsable" in text
    assert json.loads(json.dumps(summary, default=str))  # serialisable for the CLI
