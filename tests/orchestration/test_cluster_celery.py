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
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from onesource.store import Store

pytestmark = [pytest.mark.services, pytest.mark.airflow, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
# four departments, three connector types (SQLite, Parquet and JSON-lines drops)
RESOURCES = ("business_register", "population_register", "graduates", "hotline_tickets")
KILLED = "population_register"  # incremental on updated_at: the retry must pull the same rows
WORKERS = ("worker-a", "worker-b")
HEARTBEAT_TIMEOUT_S = 12  # Airflow's default is 300 s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    env: dict[str, str]  # the hub's view (PostgreSQL + S3), for the test's own reads
    api: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    killed: set[str] = field(default_factory=set)  # workers the test killed on purpose

    @property
    def sources(self) -> Path:
        """The departments' sources (outside every home, as a department's server is)."""
        return self.root / "departments" / "sources"

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} ---\n{self.log(name)[-2500:]}"
            for name in self.procs
            if (self.root / f"{name}.log").exists()
        )

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.api + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def finished_runs(self, dag_ids: list[str]) -> list[dict[str, Any]]:
        """Finished runs of these DAGs (one request, however many DAGs)."""
        body = {"dag_ids": dag_ids, "states": ["success", "failed"]}
        return list(self.call("POST", "/api/v2/dags/~/dagRuns/list", body)["dag_runs"])

    def attempts(self, worker: str) -> set[tuple[str, str, int]]:
        """(dag_id, run_id, try) of every task attempt whose log is in this worker's home."""
        found = set()
        for path in (self.root / worker / "airflow" / "logs").glob(
            "dag_id=*/run_id=*/task_id=*/*.log"
        ):
            dag, run = (p.name.split("=", 1)[1] for p in (path.parents[2], path.parents[1]))
            found.add((dag, run, int(path.stem.removeprefix("attempt="))))
        return found

    def wait(self, what: str, check: Any, timeout: float = 180.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None and name not in self.killed:
                    pytest.fail(
                        f"{name} exited ({proc.returncode}) while waiting for {what}\n{self.logs()}"
                    )
            with contextlib.suppress(OSError):
                got = check()
                if got:
                    return got
            time.sleep(1)
        pytest.fail(f"timed out waiting for {what}\n{self.logs()}")

    def wait_runs(self, dag_ids: list[str], count: int = 1) -> dict[str, dict[str, Any]]:
        """The newest run of each DAG once each has ``count`` finished runs."""

        def done() -> dict[str, dict[str, Any]] | None:
            newest: dict[str, dict[str, Any]] = {}
            runs = self.finished_runs(dag_ids)
            for dag_id in dag_ids:
                mine = [r for r in runs if r["dag_id"] == dag_id]
                if len(mine) < count:
                    return None
                newest[dag_id] = max(mine, key=lambda r: r["run_after"])
            return newest

        return self.wait(f"runs of {', '.join(dag_ids)}", done)  # type: ignore[no-any-return]


def _hub(env: dict[str, str]) -> Store:
    from onesource.store import Store

    return Store(env["ONESOURCE_DB_URL"], env["ONESOURCE_WAREHOUSE"])


@contextlib.contextmanager
def _databases(postgres_url: str) -> Iterator[tuple[str, str]]:
    """Two fresh PostgreSQL databases: Airflow's and the hub's."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(postgres_url)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    tag = uuid.uuid4().hex[:8]
    names = (f"airflow_ci_{tag}", f"hub_ci_{tag}")
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield tuple(base.set(database=n).render_as_string(hide_password=False) for n in names)  # type: ignore[misc]
    finally:
        from onesource.store.db import engine_for

        for name in names:  # the test's own pooled connections first
            with contextlib.suppress(Exception):
                engine_for(base.set(database=name).render_as_string(hide_password=False)).dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start(cluster: Cluster, name: str, cmd: list[str], env: dict[str, str]) -> None:
    cwd = Path(env["AIRFLOW_HOME"]).parent
    cluster.procs[name] = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdout=(cluster.root / f"{name}.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(cluster: Cluster) -> None:
    """SIGKILL everything: a graceful shutdown is not under test and costs ~10 s."""
    for proc in cluster.procs.values():
        if proc.poll() is None:
            _kill_tree(proc)


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker and every process under it (the machine it runs on dies)."""
    import psutil

    tree = [proc.pid]
    with contextlib.suppress(psutil.NoSuchProcess):
        tree += [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(
    postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    from cryptography.fernet import Fernet

    from tests.s3.server import aws_env, new_bucket

    root = tmp_path_factory.mktemp("cluster")
    port = _free_port()
    keyprefix = f"onesource_ci_{uuid.uuid4().hex[:8]}:"
    # this process's own Airflow/OneSource settings (other tests' in-process Airflow sets some)
    # must not leak into the cluster's processes
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ONESOURCE_", "AWS_"))
    }
    with _databases(postgres_url) as (airflow_db, hub_db), pytest.MonkeyPatch.context() as mp:
        bucket = new_bucket(mp, "cluster")
        shared = {
            **inherited,
            **aws_env(),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db,
            # Airflow's async engine: psycopg 3's async dialect, no asyncpg needed
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": airflow_db.replace(
                "+psycopg://", "+psycopg_async://"
            ),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "onesource" / "dags"),
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",  # the test calls the REST API
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CELERY__BROKER_URL": redis_url.rsplit("/", 1)[0] + "/9",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + airflow_db,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            # a run's own keys on the shared Redis: no other Airflow's leftover task reaches
            # this run's workers. Unacknowledged tasks of a dead worker come back only after
            # the visibility timeout: Airflow's retry, not Redis, moves them to the survivor
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": keyprefix,
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "3600",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            # a loaded machine can take longer than the default 5 s to answer a worker's call
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            "AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MAX": "5",
            # a dead worker's task is failed (and retried) this soon after its last heartbeat
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "1",
            "ONESOURCE_RETRY_DELAY_S": "1",
            "ONESOURCE_DB_URL": hub_db,
            "ONESOURCE_WAREHOUSE": f"s3://{bucket}/warehouse",
            "ONESOURCE_CATALOG": str(REPO / "catalog"),
            **_seed(root / "departments"),  # ~1 s
        }
        cluster = Cluster(root=root, env=dict(shared), api=f"http://127.0.0.1:{port}")

        def role(name: str) -> dict[str, str]:
            home = root / name
            for sub in ("airflow", "hub", "tmp"):
                (home / sub).mkdir(parents=True)
            return {
                **shared,
                "AIRFLOW_HOME": str(home / "airflow"),
                "ONESOURCE_HOME": str(home / "hub"),
                "TMPDIR": str(home / "tmp"),
            }

        control = role("control")
        workers = {}
        for name in WORKERS:
            env = role(name)
            marker = root / name / "tmp" / "paused"
            marker.write_text("disarmed")  # armed (removed) by the kill check
            env["ONESOURCE_STORE_PAUSE_AT"] = "after-rename"
            env["ONESOURCE_STORE_PAUSE_MARKER"] = str(marker)
            workers[name] = env
        try:
            # the slow starts first, side by side; the sources and the hub's DB meanwhile
            _start(cluster, "migrate", [AIRFLOW, "db", "migrate"], control)
            # importing the API server's app takes longest (~25 s loaded) and needs no DB: it
            # starts beside the migration, told not to refuse the DB for being unmigrated yet
            api = {**control, "AIRFLOW__DATABASE__CHECK_MIGRATIONS": "False"}
            serve = ["api-server", "--host", "127.0.0.1", "--port", str(port)]
            _start(cluster, "api", [AIRFLOW, *serve], api)
            for name, env in workers.items():
                cmd = [AIRFLOW, "celery", "worker", "--celery-hostname", f"{name}@%h"]
                cmd += ["--skip-serve-logs", "--without-mingle", "--without-gossip"]
                _start(cluster, name, cmd, env)
            _hub(cluster.env)  # migrates the hub's DB meanwhile
            migrate = cluster.procs.pop("migrate")
            assert migrate.wait(timeout=240) == 0, cluster.log("migrate")[-3000:]
            _start(cluster, "reserialize", [AIRFLOW, "dags", "reserialize"], control)
            _start(cluster, "scheduler", [AIRFLOW, "scheduler"], control)
            reserialize = cluster.procs.pop("reserialize")
            assert reserialize.wait(timeout=240) == 0, cluster.log("reserialize")[-3000:]
            cluster.wait(
                "the API server",
                lambda: urllib.request.urlopen(f"{cluster.api}/api/v2/monitor/health", timeout=2),
            )
            for name in WORKERS:
                cluster.wait(f"{name} to be ready", lambda n=name: " ready." in cluster.log(n))
            yield cluster
        finally:
            _stop(cluster)
            _forget_keys(redis_url, keyprefix)


def _seed(home: Path) -> dict[str, str]:
    """The demo departments' sources (small); their connections as ONESOURCE_CONN_<ID>."""
    from onesource.demo import seed

    seed(home, people=400, catalog_root=REPO / "catalog")
    conns = json.loads((home / "connections.json").read_text(encoding="utf-8"))
    return {f"ONESOURCE_CONN_{k.upper()}": json.dumps(v) for k, v in conns.items()}


def _forget_keys(redis_url: str, prefix: str) -> None:
    import redis

    with contextlib.suppress(Exception):
        client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/9")
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


@pytest.fixture(scope="module")
def first_runs(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """Every resource's DAG unpaused at once: the scheduler runs each once (its latest interval)."""
    dag_ids = [f"ingest__{r}" for r in RESOURCES]
    for dag_id in dag_ids:
        cluster.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    return cluster.wait_runs(dag_ids)


def test_the_demo_dags_run_on_both_workers(cluster: Cluster, first_runs: dict[str, Any]) -> None:
    assert {d: r["state"] for d, r in first_runs.items()} == dict.fromkeys(first_runs, "success")
    ran = {w: {dag for dag, _, _ in cluster.attempts(w)} for w in WORKERS}
    assert all(ran.values()), f"a worker ran nothing: {ran}"
    assert set().union(*ran.values()) >= set(first_runs), ran
    store = _hub(cluster.env)
    for resource in RESOURCES:
        version = store.current("resource", resource)
        assert version is not None and version.number == 1, resource
        assert store.read("resource", resource).num_rows == version.row_count > 0
        assert version.path and store.warehouse.url.startswith("s3://")


def test_a_killed_worker_s_task_is_retried_on_the_other(
    cluster: Cluster, first_runs: dict[str, Any]
) -> None:
    store = _hub(cluster.env)
    before = store.current("resource", KILLED)
    assert before is not None and before.number == 1
    old = store.read("resource", KILLED)
    # 20 residents moved: the incremental pull takes exactly these rows
    with contextlib.closing(sqlite3.connect(cluster.sources / "psb.db")) as con, con:
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
    cluster.killed.add(victim)
    _kill_tree(cluster.procs[victim])
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
