"""Cluster mode, for real: two Celery workers that share only the databases, the broker and S3.

One cluster per module: PostgreSQL holds Airflow's metadata DB and the hub's (two databases),
Redis is the Celery broker (a key prefix of this run's own), and the warehouse is a bucket on
the local S3 server (``tests/s3/server.py``).  An API server and a scheduler (the control
plane) and two ``airflow celery worker`` processes run with separate homes: each has its own
``AIRFLOW_HOME`` (task logs), ``ONESOURCE_HOME`` (caches), ``TMPDIR`` and working directory.
The departments' sources are the demo's (``onesource.demo.seed``, small), outside every home,
as a department's database would be.

- The demo's ingest DAGs of four departments run at once and land on both workers (each
  worker's own task-log folder says which tasks it ran); each commits version 1 to S3.
- A worker is SIGKILLed mid-commit (objects copied to S3, pointer not moved: the store's
  ``after-rename`` pause point): readers see the previous version throughout; Airflow's
  scheduler notices the missing task heartbeat, the retry runs on the other worker and
  commits the complete new version; the hub's run record of the killed try says ``killed``
  and which process died, the retry's ``succeeded``, both with the same Airflow run.

No file is shared between the workers, not even the pause point's marker: it is per worker
(``<worker>/tmp/paused``) and while it exists that worker does not pause; the test arms both
for the kill check and disarms the survivor before the kill.  Airflow's task heartbeat timeout
(default 300 s) is 12 s here and the first retry's delay 1 s (``ONESOURCE_RETRY_DELAY_S``);
the API server is started beside ``airflow db migrate`` to overlap its slow start.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.orchestration.cluster import BIN, REPO, Cluster, running_cluster

pytestmark = [pytest.mark.services, pytest.mark.airflow, pytest.mark.slow]
# four departments, three connector types (SQLite, Parquet and JSON-lines drops)
RESOURCES = ("business_register", "population_register", "graduates", "hotline_tickets")
KILLED = "population_register"  # incremental on updated_at: the retry must pull the same rows
WORKERS = ("worker-a", "worker-b")


def _seed(home: Path) -> dict[str, str]:
    """The demo departments' sources (small); their connections as ONESOURCE_CONN_<ID>."""
    from onesource.demo import seed

    seed(home, people=400, catalog_root=REPO / "catalog")
    conns = json.loads((home / "connections.json").read_text(encoding="utf-8"))
    return {f"ONESOURCE_CONN_{k.upper()}": json.dumps(v) for k, v in conns.items()}


def _pause_once(name: str, home: Path) -> dict[str, str]:
    """Commits on this worker stop after copying their objects while the marker is absent."""
    marker = home / "tmp" / "paused"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("disarmed")  # armed (removed) by the kill check
    return {"ONESOURCE_STORE_PAUSE_AT": "after-rename", "ONESOURCE_STORE_PAUSE_MARKER": str(marker)}


@pytest.fixture(scope="module")
def cluster(
    postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    conns = _seed(root / "departments")  # outside every home, as a department's server is
    with running_cluster(
        root, postgres_url, redis_url, workers=WORKERS, env=conns, worker_env=_pause_once
    ) as running:
        yield running


@pytest.fixture(scope="module")
def first_runs(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """Every resource's DAG unpaused at once: the scheduler runs each once (its latest interval)."""
    dag_ids = [f"ingest__{r}" for r in RESOURCES]
    for dag_id in dag_ids:
        cluster.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    runs = cluster.wait_runs(dag_ids)
    store = cluster.hub()
    # what the first runs committed, before any other test (in any order) commits more
    _FIRST_VERSIONS.update({r: store.current("resource", r) for r in RESOURCES})
    return runs


_FIRST_VERSIONS: dict[str, Any] = {}


def test_the_demo_dags_run_on_both_workers(cluster: Cluster, first_runs: dict[str, Any]) -> None:
    assert {d: r["state"] for d, r in first_runs.items()} == dict.fromkeys(first_runs, "success")
    ran = {w: {dag for dag, _, _ in cluster.attempts(w)} for w in WORKERS}
    assert all(ran.values()), f"a worker ran nothing: {ran}"
    assert set().union(*ran.values()) >= set(first_runs), ran
    store = cluster.hub()
    for resource in RESOURCES:
        version = _FIRST_VERSIONS[resource]
        assert version is not None and version.number == 1, resource
        assert store.read("resource", resource, version=1).num_rows == version.row_count > 0
        assert version.path and store.warehouse.url.startswith("s3://")


def test_a_killed_worker_s_task_is_retried_on_the_other(
    cluster: Cluster, first_runs: dict[str, Any]
) -> None:
    store = cluster.hub()
    before = store.current("resource", KILLED)
    assert before is not None and before.number == 1
    old = store.read("resource", KILLED)
    # 20 residents moved: the incremental pull takes exactly these rows
    with (
        contextlib.closing(
            sqlite3.connect(cluster.root / "departments" / "sources" / "psb.db")
        ) as con,
        con,
    ):
        picked = "SELECT rowid FROM population ORDER BY rowid LIMIT 20"
        moved = {
            r[0] for r in con.execute(f"SELECT id_number FROM population WHERE rowid IN ({picked})")
        }
        con.execute(
            "UPDATE population SET address = address || '（已迁）', updated_at = '2026-11-29 09:00:00'"
            f" WHERE rowid IN ({picked})"
        )
    moved &= set(old["id_number"].to_pylist())  # those that passed the checks in version 1
    assert moved
    markers = {w: cluster.root / w / "tmp" / "paused" for w in WORKERS}
    for marker in markers.values():
        marker.unlink()  # armed: the next commit on either worker stops after copying its objects
    dag_id = f"ingest__{KILLED}"
    run = cluster.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})
    victim = cluster.wait(
        "the commit to pause", lambda: [w for w, m in markers.items() if m.exists()]
    )[0]
    survivor = next(w for w in WORKERS if w != victim)
    markers[survivor].write_text("disarmed")
    # the new version's objects are on S3, its pointer has not moved: readers see version 1
    assert store.current("resource", KILLED).number == 1  # type: ignore[union-attr]
    assert store.read("resource", KILLED).equals(old)
    [killed_run] = store.runs(KILLED, status="running")
    cluster.kill(victim)
    assert store.current("resource", KILLED).number == 1  # type: ignore[union-attr]

    finished = cluster.wait_runs([dag_id], count=2)[dag_id]
    assert finished["dag_run_id"] == run["dag_run_id"] and finished["state"] == "success"
    ti = cluster.call(
        "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances/ingest"
    )
    assert ti["try_number"] == 2 and ti["state"] == "success"
    # try 1 logged on the killed worker, try 2 on the other
    assert (dag_id, run["dag_run_id"], 1) in cluster.attempts(victim)
    assert (dag_id, run["dag_run_id"], 2) in cluster.attempts(survivor)
    assert (dag_id, run["dag_run_id"], 2) not in cluster.attempts(victim)

    after = store.current("resource", KILLED)
    assert after is not None and after.number == 2 and after.row_count == before.row_count
    new = store.read("resource", KILLED)
    assert new.num_rows == old.num_rows
    changed = {
        i
        for i, a in zip(new["id_number"].to_pylist(), new["address"].to_pylist(), strict=True)
        if a and a.endswith("（已迁）")
    }
    assert changed == moved
    assert [v.number for v in store.versions("resource", KILLED)] == [1, 2]

    # the run record: the killed try is `killed` naming the dead process, the retry succeeded;
    # both carry the same Airflow run, as `onesource runs` shows an operator
    out = subprocess.run(
        [str(BIN / "onesource"), "runs", "--subject", KILLED, "--json"],
        env={**cluster.env, "ONESOURCE_HOME": str(cluster.root / "control" / "hub")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    runs = {r["id"]: r for r in json.loads(out.stdout)}
    dead = runs[killed_run.id]
    assert dead["status"] == "killed" and dead["error_code"] == "run-killed", dead
    assert str(killed_run.pid) in dead["error_message"], dead
    retry = next(r for r in runs.values() if r["started_at"] > dead["started_at"])
    assert retry["status"] == "succeeded", retry
    assert dead["params"]["trigger"] == retry["params"]["trigger"] == f"airflow {run['dag_run_id']}"
