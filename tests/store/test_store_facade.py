"""Store facade: versions, pointers, writers, runs and incremental state."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from onesource.store import (
    RunStateError,
    Store,
    StoreError,
    VersionNotFoundError,
    WriterSchemaError,
)

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("score", pa.float64())])


def test_commit_read_and_versions(
    store: Store, rows: Callable[..., Any], commit: Callable[..., Any]
) -> None:
    assert store.current("resource", "people") is None
    assert commit(store, "people", rows(0, 10)) == 1
    assert commit(store, "people", rows(100, 5)) == 2

    current = store.current("resource", "people")
    assert current is not None
    assert (current.number, current.row_count, current.current) == (2, 5, True)
    assert current.path.startswith("curated/people/v2-")
    assert store.read("resource", "people").equals(rows(100, 5))
    assert store.read("resource", "people", version=1).equals(rows(0, 10))
    assert store.read("resource", "people", columns=["id"]).column_names == ["id"]
    assert [(v.number, v.current) for v in store.versions("resource", "people")] == [
        (1, False),
        (2, True),
    ]
    batches = list(store.dataset("resource", "people", version=1).to_batches())
    assert sum(b.num_rows for b in batches) == 10


def test_rollback_moves_pointer_and_is_recorded(
    store: Store, rows: Callable[..., Any], commit: Callable[..., Any]
) -> None:
    commit(store, "people", rows(0, 3))
    commit(store, "people", rows(10, 4))
    info = store.rollback("resource", "people", to=1)
    assert info.number == 1 and info.current
    assert store.read("resource", "people").equals(rows(0, 3))
    run = store.runs(subject="people", limit=1)[0]
    assert (run.kind, run.status, run.params["from"], run.params["to"]) == (
        "rollback",
        "succeeded",
        2,
        1,
    )
    # the next commit is still numbered after the highest, not after the pointer
    assert commit(store, "people", rows(20, 1)) == 3


def test_rollback_to_unknown_version_names_known_ones(
    store: Store, rows: Callable[..., Any], commit: Callable[..., Any]
) -> None:
    commit(store, "people", rows(0, 3))
    with pytest.raises(VersionNotFoundError, match="known versions: 1"):
        store.rollback("resource", "people", to=7)
    assert store.current("resource", "people").number == 1  # type: ignore[union-attr]


def test_failing_writer_leaves_previous_version_current(
    store: Store, rows: Callable[..., Any], commit: Callable[..., Any]
) -> None:
    commit(store, "people", rows(0, 3))
    with (
        pytest.raises(RuntimeError),
        store.begin_run("ingest", "people") as run,
        store.open_writer("resource", "people", run.id, SCHEMA) as writer,
    ):
        writer.write(rows(50, 100))
        raise RuntimeError("source went away mid-stream")
    assert store.current("resource", "people").number == 1  # type: ignore[union-attr]
    assert store.read("resource", "people").equals(rows(0, 3))
    failed = store.run(run.id)
    assert (failed.status, failed.error_code) == ("failed", "RuntimeError")
    assert store.warehouse.listdir("_staging") == []  # staging removed on abort


def test_writer_closed_without_commit_publishes_nothing(
    store: Store, rows: Callable[..., Any]
) -> None:
    with (
        store.begin_run("ingest", "people") as run,
        store.open_writer("resource", "people", run.id, SCHEMA) as writer,
    ):
        writer.write(rows(0, 3))
    assert store.current("resource", "people") is None
    assert store.versions("resource", "people") == []
    with pytest.raises(VersionNotFoundError):
        store.read("resource", "people")


def test_schema_mismatch_is_refused_and_castable_batches_are_cast(
    store: Store, rows: Callable[..., Any], commit: Callable[..., Any]
) -> None:
    with (
        store.begin_run("ingest", "people") as run,
        store.open_writer("resource", "people", run.id, SCHEMA) as writer,
    ):
        as_int32 = rows(0, 2).cast(
            pa.schema([("id", pa.int32()), ("name", pa.string()), ("score", pa.float64())])
        )
        writer.write(as_int32)
        with pytest.raises(WriterSchemaError, match="columns"):
            writer.write(rows(0, 2).select(["name", "id", "score"]))
        info = writer.commit()
    assert info.row_count == 2
    assert store.read("resource", "people").schema.equals(SCHEMA)


def test_empty_version_has_a_typed_file(store: Store) -> None:
    with (
        store.begin_run("ingest", "people") as run,
        store.open_writer("resource", "people", run.id, SCHEMA) as writer,
    ):
        info = writer.commit()
    assert info.row_count == 0
    assert store.read("resource", "people").schema.equals(SCHEMA)


def test_release_version_holds_several_files(
    store: Store, rows: Callable[..., Any], commit: Callable[..., Any]
) -> None:
    with (
        store.begin_run("release", "population-open") as run,
        store.open_writer("release", "population-open", run.id) as writer,
    ):
        writer.write(rows(0, 4), file="data.parquet")
        writer.put_file("data.csv", "\ufeffid,name\n0,n0\n")
        writer.put_file("datapackage.json", json.dumps({"name": "population-open"}))
        info = writer.commit(stats={"k": 5})
    assert info.path.startswith("open/population-open/v1-")
    assert info.stats == {"k": 5}
    assert store.files("release", "population-open") == [
        "data.csv",
        "data.parquet",
        "datapackage.json",
    ]
    with store.open_file("release", "population-open", "datapackage.json") as fh:
        assert json.load(fh) == {"name": "population-open"}


def test_raw_quarantine_and_reports_are_per_run(store: Store, rows: Callable[..., Any]) -> None:
    with store.begin_run("ingest", "people") as run:
        with store.land_raw("people", run.id, SCHEMA) as raw:
            raw.write(rows(0, 7))
        with store.write_quarantine("people", run.id, SCHEMA) as bad:
            bad.write(rows(5, 2))
        report = store.write_report("people", run.id, "quality.json", "{}")
        run.finish("succeeded", rows_read=7, rows_good=5, rows_quarantined=2, report_path=report)
    assert store.read_run_file("raw", "people", run.id).equals(rows(0, 7))
    assert store.read_run_file("quarantine", "people", run.id).num_rows == 2
    assert store.warehouse.files(f"raw/people/{run.id}") == ["part-00000.parquet"]
    done = store.run(run.id)
    assert (done.rows_read, done.rows_good, done.rows_quarantined) == (7, 5, 2)
    assert done.report_path == f"reports/people/{run.id}/quality.json"


@pytest.mark.parametrize(
    "subject",
    ["../escape", "a/b", "", "x" * 201],
    ids=["dotdot", "slash", "empty", "too-long"],
)
def test_unsafe_subject_names_are_refused(store: Store, subject: str) -> None:
    with store.begin_run("ingest", "x") as run, pytest.raises(StoreError, match="warehouse folder"):
        store.open_writer("resource", subject, run.id, SCHEMA)


def test_writing_under_a_finished_run_is_refused(store: Store) -> None:
    with store.begin_run("ingest", "people") as run:
        pass
    with pytest.raises(RunStateError, match="succeeded, not running"):
        store.open_writer("resource", "people", run.id, SCHEMA)
    with pytest.raises(RunStateError, match="already succeeded"):
        store.finish_run(run.id, "failed")


def test_runs_listing_and_unknown_kind(store: Store) -> None:
    for subject in ("a", "b", "a"):
        store.begin_run("ingest", subject, department="civil", params={"p": 1}).finish()
    assert [r.subject for r in store.runs(subject="a")] == ["a", "a"]
    assert store.runs(limit=1)[0].department == "civil"
    with pytest.raises(RunStateError, match="unknown run kind"):
        store.begin_run("bogus", "a")


def test_watermarks_manifest_and_quality(store: Store) -> None:
    assert store.get_watermark("people", "updated_at") is None
    store.set_watermark("people", "updated_at", "2024-01-01")
    store.set_watermark("people", "updated_at", "2024-02-01")
    assert store.get_watermark("people", "updated_at") == "2024-02-01"

    assert store.manifest_seen("people", "ab" * 32) is None
    assert store.record_manifest("people", "drop/a.csv", "ab" * 32, 120, lines=3) is True
    assert store.record_manifest("people", "drop/copy.csv", "ab" * 32, 120) is False
    seen = store.manifest_seen("people", "ab" * 32)
    assert seen is not None and (seen.source, seen.lines) == ("drop/a.csv", 3)

    run = store.begin_run("ingest", "people")
    store.record_quality(run.id, "people", {"failed": 2}, passed=False)
    assert store.quality("people")[0]["summary"] == {"failed": 2}


def test_reaper_uses_pid_here_and_heartbeat_elsewhere(store: Store) -> None:
    from datetime import timedelta

    from onesource.store.db import session
    from onesource.store.models import Run
    from onesource.store.records import utcnow

    alive_here = store.begin_run("ingest", "a")
    silent_elsewhere = store.begin_run("ingest", "b")
    beating_elsewhere = store.begin_run("ingest", "c")
    with session(store.engine, write=True) as ses:
        for run_id, age in ((silent_elsewhere.id, 3600), (beating_elsewhere.id, 5)):
            row = ses.get(Run, run_id)
            assert row is not None
            row.host, row.pid = "other-host", 1
            row.heartbeat_at = utcnow() - timedelta(seconds=age)

    reaped = store.reap_stale_runs(stale_after=timedelta(minutes=10))
    assert [r.id for r in reaped] == [silent_elsewhere.id]
    assert "no heartbeat from other-host:1" in (reaped[0].error_message or "")
    assert store.run(alive_here.id).status == "running"
    store.heartbeat(beating_elsewhere.id)
    assert store.run(beating_elsewhere.id).status == "running"


def test_subjects_lists_what_has_a_current_version(
    store: Store, rows: Callable[..., Any], commit: Callable[..., Any]
) -> None:
    commit(store, "b", rows(0, 1))
    commit(store, "a", rows(0, 1))
    commit(store, "rel", rows(0, 1), kind="release")
    assert store.subjects("resource") == ["a", "b"]
    assert store.subjects() == ["a", "b", "rel"]
