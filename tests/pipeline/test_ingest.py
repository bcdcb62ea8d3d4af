"""Ingest end to end on the embedded default: SQLite source -> checks -> atomic version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from onesource.catalog.loader import load_catalog
from onesource.pipeline.ingest import ingest, ingest_push
from onesource.store import Store
from schemas.errors import TerminalError, TransientError
from schemas.identifiers import credit_check_char

CATALOG = load_catalog("catalog").raise_for_issues()
COLUMNS = list(CATALOG.resources["business_register"].fields)  # source table = fields


def credit(i: int) -> str:
    body = f"91339902MA{i:07d}"
    return body + credit_check_char(body)


def business_rows(
    start: int, n: int, bad: int = 0, updated: str = "2026-11-20 10:00:00"
) -> list[tuple]:
    rows = []
    for i in range(start, start + n):
        code = credit(i)
        if i - start < bad:
            code = code[:17] + ("0" if code[17] != "0" else "1")  # wrong check character
        rows.append(
            (
                code,
                f"清河企业{i}",
                "1",
                "赵六",
                None,
                100.5,
                "2020-05-01",
                "I",
                "339902",
                "1",
                updated,
            )
        )
    return rows


@pytest.fixture
def amr_db(hub_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = hub_home / "amr.db"
    con = sqlite3.connect(path)
    con.execute(f"CREATE TABLE enterprise ({', '.join(c + ' TEXT' for c in COLUMNS)})")
    con.executemany(
        f"INSERT INTO enterprise VALUES ({', '.join('?' * len(COLUMNS))})",
        business_rows(0, 200, bad=3),
    )
    con.commit()
    con.close()
    monkeypatch.setenv("ONESOURCE_CONN_AMR_DB", f"sqlite:///{path}")
    return path


def test_ingest_commits_good_rows_and_quarantines_bad(amr_db: Path) -> None:
    store = Store.open()
    result = ingest("business_register", store=store, catalog=CATALOG)
    assert (result.status, result.version) == ("succeeded", 1), result.error
    assert (result.rows_read, result.rows_good, result.rows_quarantined) == (200, 197, 3)
    assert store.current("resource", "business_register").row_count == 197
    quarantine = store.read_run_file("quarantine", "business_register", result.run_id)
    assert quarantine.num_rows == 3
    assert all("credit_code:domain.credit_code" in r for r in quarantine["_reasons"].to_pylist())
    assert result.report_paths["html"].endswith("quality.html")
    assert store.get_watermark("business_register", "updated_at") is not None


def test_incremental_run_merges_by_key(amr_db: Path) -> None:
    store = Store.open()
    ingest("business_register", store=store, catalog=CATALOG)
    con = sqlite3.connect(amr_db)
    con.executemany(
        f"INSERT INTO enterprise VALUES ({', '.join('?' * len(COLUMNS))})",
        business_rows(200, 10, updated="2026-11-21 10:00:00"),
    )
    con.execute(
        "UPDATE enterprise SET name = '改名企业', updated_at = '2026-11-21 11:00:00' WHERE credit_code = ?",
        (credit(5),),
    )
    con.commit()
    con.close()
    second = ingest("business_register", store=store, catalog=CATALOG)
    assert second.status == "succeeded" and second.rows_read == 11, second
    table = store.read("resource", "business_register")
    assert table.num_rows == 207
    names = dict(zip(table["credit_code"].to_pylist(), table["name"].to_pylist(), strict=True))
    assert names[credit(5)] == "改名企业"
    third = ingest("business_register", store=store, catalog=CATALOG)
    assert third.status == "unchanged" and third.version is None


def test_rejected_batch_leaves_previous_version_current(amr_db: Path) -> None:
    store = Store.open()
    first = ingest("business_register", store=store, catalog=CATALOG)
    con = sqlite3.connect(amr_db)
    con.executemany(
        f"INSERT INTO enterprise VALUES ({', '.join('?' * len(COLUMNS))})",
        business_rows(300, 20, bad=20, updated="2026-11-22 10:00:00"),
    )
    con.commit()
    con.close()
    second = ingest("business_register", store=store, catalog=CATALOG)
    assert second.status == "rejected" and "threshold" in second.error
    assert store.current("resource", "business_register").number == first.version
    assert store.run(second.run_id).status == "rejected"
    # the watermark did not move: the next run sees the same rows again
    assert store.get_watermark("business_register", "updated_at").startswith("2026-11-20")


def test_dead_source_is_transient_and_changes_nothing(
    hub_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONESOURCE_CONN_AMR_DB", "postgresql://nobody@127.0.0.1:1/nothing")
    store = Store.open()
    with pytest.raises(TransientError) as err:
        ingest("business_register", store=store, catalog=CATALOG)
    assert "amr_db" in str(err.value)
    assert store.current("resource", "business_register") is None
    assert store.runs("business_register")[0].status == "failed"


def test_push_goes_through_the_same_checks(hub_home: Path) -> None:
    store = Store.open()
    id_ok = "339902195001011236"
    from schemas.identifiers import id_check_char

    id_ok = id_ok[:17] + id_check_char(id_ok[:17])
    csv = f"id_number,name,month,amount\n{id_ok},钱七,2026-10,300\n{id_ok},钱七,2026-11,300\nbad,孙八,2026-13,5\n"
    result = ingest_push(
        "elderly_subsidies",
        csv.encode(),
        filename="oct.csv",
        fmt="csv",
        department="civil",
        store=store,
        catalog=CATALOG,
    )
    assert result.status == "rejected"  # 1 of 3 rows bad: above the 5% threshold
    good = csv.rsplit("\n", 2)[0] + "\n"
    ok = ingest_push(
        "elderly_subsidies",
        good.encode(),
        filename="oct.csv",
        fmt="csv",
        department="civil",
        store=store,
        catalog=CATALOG,
    )
    assert ok.status == "succeeded" and ok.version == 1 and ok.rows_good == 2
    with pytest.raises(TerminalError, match="does not own"):
        ingest_push(
            "elderly_subsidies",
            good.encode(),
            filename="x.csv",
            fmt="csv",
            department="edu",
            store=store,
            catalog=CATALOG,
        )
