"""A full-snapshot SQL resource whose source did not change commits no new version, and its
Airflow task is skipped (no asset event, so no release rebuild)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from onesource.catalog.loader import load_catalog
from onesource.orchestration.tasks import run_ingest
from onesource.pipeline.ingest import ingest
from onesource.store import Store
from schemas.identifiers import id_check_char

REPO = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(REPO / "catalog").raise_for_issues()


def person_id(i: int) -> str:
    body = f"33990219700101{i:03d}"
    return body + id_check_char(body)


@pytest.fixture
def psb_db(hub_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = hub_home / "psb.db"
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE households (household_number TEXT, division TEXT, size INTEGER, "
        "head_id_number TEXT)"
    )
    con.executemany(
        "INSERT INTO households VALUES (?, ?, ?, ?)",
        [(f"H{i:05d}", "339902", 1 + i % 5, person_id(i)) for i in range(50)],
    )
    con.commit()
    con.close()
    monkeypatch.setenv("ONESOURCE_CONN_PSB_DB", f"sqlite:///{path}")
    return path


def test_unchanged_snapshot_commits_no_version(psb_db: Path) -> None:
    assert not getattr(CATALOG.resources["households"].connector, "incremental", None)
    store = Store.open()
    first = ingest("households", store=store, catalog=CATALOG)
    assert (first.status, first.version) == ("succeeded", 1), first.error
    second = ingest("households", store=store, catalog=CATALOG)
    assert (second.status, second.version) == ("unchanged", None)
    assert [v.number for v in store.versions("resource", "households")] == [1]
    assert store.run(second.run_id).status == "succeeded"  # the run itself went fine

    outcome = run_ingest("households")  # what the Airflow task runs
    assert outcome.state == "skipped"  # the adapter raises AirflowSkipException: no asset event

    con = sqlite3.connect(psb_db)
    con.execute("UPDATE households SET size = 9 WHERE household_number = 'H00003'")
    con.commit()
    con.close()
    third = ingest("households", store=store, catalog=CATALOG)
    assert (third.status, third.version) == ("succeeded", 2)
    assert run_ingest("households").state == "skipped"


def test_a_push_that_changes_nothing_commits_no_version(hub_home: Path) -> None:
    from onesource.pipeline.ingest import ingest_push

    body = "id_number,name,month,amount\n" + "".join(
        f"{person_id(i)},钱{i},2026-01,{100 + i}\n" for i in range(5)
    )

    def push(data: str) -> object:
        return ingest_push(
            "elderly_subsidies",
            data.encode(),
            filename="jan.csv",
            fmt="csv",
            department="civil",
            catalog=CATALOG,
        )

    assert push(body).version == 1
    again = push(body)
    assert (again.status, again.version) == ("unchanged", None)
    assert push(body.replace(",100\n", ",101\n")).version == 2
