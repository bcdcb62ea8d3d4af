"""Cluster mode, for real: PostgreSQL metadata DB, CeleryExecutor with Redis, a Celery worker process.

One ingest DAG runs through the executor (``airflow dags test --use-executor``):
the task is queued on Redis, executed by the worker, reports to the API server,
and commits version 1 of the resource in the hub's store.
"""

from __future__ import annotations

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
from pathlib import Path

import pytest

from schemas.identifiers import credit_check_char

pytestmark = [pytest.mark.services, pytest.mark.airflow, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")
COLUMNS = [
    "credit_code",
    "name",
    "type",
    "legal_rep_name",
    "legal_rep_id_number",
    "registered_capital",
    "established_on",
    "industry",
    "division",
    "status",
    "updated_at",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _source(hub: Path) -> Path:
    path = hub / "amr.db"
    con = sqlite3.connect(path)
    con.execute(f"CREATE TABLE enterprise ({', '.join(c + ' TEXT' for c in COLUMNS)})")
    rows = []
    for i in range(20):
        body = f"91339902MA{i:07d}"
        rows.append(
            (
                body + credit_check_char(body),
                f"清河企业{i}",
                "1",
                "赵六",
                None,
                "10.5",
                "2020-01-01",
                "I",
                "339902",
                "1",
                "2026-11-20 10:00:00",
            )
        )
    con.executemany(f"INSERT INTO enterprise VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    con.commit()
    con.close()
    return path


@pytest.fixture
def cluster_db(postgres_url: str, redis_url: str):  # type: ignore[no-untyped-def]
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(postgres_url)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"airflow_ci_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_ingest_dag_runs_on_a_celery_worker(
    cluster_db: str, redis_url: str, tmp_path: Path
) -> None:
    from cryptography.fernet import Fernet

    hub = tmp_path / "hub"
    hub.mkdir()
    port = _free_port()
    redis_db = redis_url.rsplit("/", 1)[0] + "/9"
    # keys of this run's own on the shared Redis: a task left queued by another run (signed
    # with another JWT secret) can never reach this run's worker, nor this run's task another's
    keyprefix = f"onesource_ci_{uuid.uuid4().hex[:8]}:"
    # this process's own Airflow/OneSource settings (other tests' in-process Airflow sets some,
    # e.g. a WARNING log level that would hide the worker's task lines) must not leak in
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ONESOURCE_"))}
    env = {
        **inherited,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": cluster_db,
        # Airflow's async engine: psycopg 3's async dialect, no asyncpg needed
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": cluster_db.replace(
            "+psycopg://", "+psycopg_async://"
        ),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "onesource" / "dags"),
        "AIRFLOW__CELERY__BROKER_URL": redis_db,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + cluster_db,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__CORE__PARALLELISM": "4",
        # a loaded CI machine can take longer than the default 5 s to answer the worker's
        # first Execution API call; a timeout there means backoff retries of up to 90 s
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
        "AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MAX": "5",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": keyprefix,
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "3600",
        "ONESOURCE_HOME": str(hub),
        "ONESOURCE_CATALOG": str(REPO / "catalog"),
        "ONESOURCE_CONN_AMR_DB": f"sqlite:///{_source(hub)}",
    }
    migrate = subprocess.run(
        [AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=240
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    logs = {n: tmp_path / f"{n}.log" for n in ("api", "worker")}
    procs = []
    try:
        for name, cmd in (
            ("api", [AIRFLOW, "api-server", "--port", str(port)]),
            ("worker", [AIRFLOW, "celery", "worker", "--concurrency", "2"]),
        ):
            procs.append(
                subprocess.Popen(
                    cmd,
                    env=env,
                    stdout=logs[name].open("w"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2)
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail(
                "the Airflow API server did not come up:\n" + logs["api"].read_text()[-3000:]
            )
        run = subprocess.run(
            [AIRFLOW, "dags", "test", "--use-executor", "ingest__business_register"],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        out = run.stdout + run.stderr
        assert run.returncode == 0, out[-3000:]
        # `dags test` may return while the worker is still finishing: wait for the worker's own word
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and "succeeded in" not in logs["worker"].read_text():
            time.sleep(1)
    finally:
        for proc in procs:
            with __import__("contextlib").suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    worker = logs["worker"].read_text()
    assert "execute_workload" in worker and "succeeded in" in worker, worker[-3000:]
    # the task, executed by the worker, committed version 1 in the hub's store
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "from onesource.store import Store; v = Store.open().current('resource', "
            "'business_register'); print(v.number, v.row_count)",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert check.stdout.split() == ["1", "20"], check.stderr[-2000:]
