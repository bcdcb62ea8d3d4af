"""A real Airflow cluster on one machine, for the cluster test and bench/bench_cluster.py.

``running_cluster(...)`` starts, with separate homes (``AIRFLOW_HOME``, ``ONESOURCE_HOME``,
``TMPDIR`` and working directory each): a control plane (``airflow db migrate``, then an API
server and a scheduler; ``airflow dags reserialize`` instead of a DAG processor) and N
``airflow celery worker`` processes.  They share only PostgreSQL (Airflow's database and the
hub's, made fresh and dropped afterwards), Redis (a key prefix of this cluster's own,
deleted afterwards) and a bucket on the local S3 server (``tests/s3/server.py``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onesource.store import Store

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
HEARTBEAT_TIMEOUT_S = 12  # Airflow's default is 300 s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    env: dict[str, str]  # the hub's view (PostgreSQL + S3), for the caller's own reads
    api: str
    workers: tuple[str, ...] = ()
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    killed: set[str] = field(default_factory=set)  # workers killed on purpose

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} ---\n{self.log(name)[-2500:]}"
            for name in self.procs
            if (self.root / f"{name}.log").exists()
        )

    def hub(self) -> Store:
        from onesource.store import Store

        return Store(self.env["ONESOURCE_DB_URL"], self.env["ONESOURCE_WAREHOUSE"])

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.api + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def finished_runs(self, dag_ids: list[str]) -> list[dict[str, Any]]:
        """Finished runs of these DAGs (one request, however many DAGs)."""
        body = {"dag_ids": dag_ids, "states": ["success", "failed"], "page_limit": 1000}
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

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 180.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None and name not in self.killed:
                    raise AssertionError(
                        f"{name} exited ({proc.returncode}) while waiting for {what}\n{self.logs()}"
                    )
            with contextlib.suppress(OSError):
                got = check()
                if got:
                    return got
            time.sleep(1)
        raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")

    def wait_runs(
        self, dag_ids: list[str], count: int = 1, timeout: float = 180.0
    ) -> dict[str, dict[str, Any]]:
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

        return self.wait(f"runs of {', '.join(dag_ids)}", done, timeout)  # type: ignore[no-any-return]

    def kill(self, worker: str) -> None:
        """SIGKILL a worker and every process under it (the machine it runs on dies)."""
        self.killed.add(worker)
        kill_tree(self.procs[worker])


def _ready(cluster: Cluster, worker: str) -> bool:
    return " ready." in cluster.log(worker)


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
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


@contextlib.contextmanager
def _databases(postgres_url: str) -> Iterator[tuple[str, str]]:
    """Two fresh PostgreSQL databases: Airflow's and the hub's."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(postgres_url)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    tag = uuid.uuid4().hex[:8]
    names = (f"airflow_ci_{tag}", f"hub_ci_{tag}")
    urls = [base.set(database=n).render_as_string(hide_password=False) for n in names]
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urls[0], urls[1]
    finally:
        from onesource.store.db import engine_for

        for url in urls:  # this process's own pooled connections first
            with contextlib.suppress(Exception):
                engine_for(url).dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _forget_keys(broker: str, prefix: str) -> None:
    import redis

    with contextlib.suppress(Exception):
        client = redis.Redis.from_url(broker)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


@contextlib.contextmanager
def running_cluster(
    root: Path,
    postgres_url: str,
    redis_url: str,
    *,
    workers: Sequence[str] = ("worker-a", "worker-b"),
    env: dict[str, str] | None = None,
    worker_env: Callable[[str, Path], dict[str, str]] | None = None,
) -> Iterator[Cluster]:
    """A cluster under ``root``; ``env`` is added for every process (sources' connections,
    ``ONESOURCE_CATALOG``), ``worker_env(name, home)`` for one worker.  Every process is
    SIGKILLed at the end (a graceful shutdown is not under test and costs ~10 s)."""
    from cryptography.fernet import Fernet

    from tests.s3.server import aws_env, new_bucket

    port = _free_port()
    keyprefix = f"onesource_ci_{uuid.uuid4().hex[:8]}:"
    broker = redis_url.rsplit("/", 1)[0] + "/9"
    # the caller's own Airflow/OneSource settings (other tests' in-process Airflow sets some)
    # must not leak into the cluster's processes
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ONESOURCE_", "AWS_"))
    }
    with _databases(postgres_url) as (airflow_db, hub_db), contextlib.ExitStack() as stack:
        import pytest

        bucket = new_bucket(stack.enter_context(pytest.MonkeyPatch.context()), "cluster")
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
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",  # the caller uses the REST API
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CELERY__BROKER_URL": broker,
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
            **(env or {}),
        }
        cluster = Cluster(root, dict(shared), f"http://127.0.0.1:{port}", tuple(workers))

        def role(name: str) -> dict[str, str]:
            home = root / name
            for sub in ("airflow", "hub", "tmp"):
                (home / sub).mkdir(parents=True, exist_ok=True)
            own = {
                "AIRFLOW_HOME": str(home / "airflow"),
                "ONESOURCE_HOME": str(home / "hub"),
                "TMPDIR": str(home / "tmp"),
            }
            return {**shared, **own}

        def start(name: str, cmd: list[str], env: dict[str, str]) -> None:
            cluster.procs[name] = subprocess.Popen(
                cmd,
                env=env,
                cwd=Path(env["AIRFLOW_HOME"]).parent,
                stdout=(root / f"{name}.log").open("w"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def finish(name: str) -> None:
            assert cluster.procs.pop(name).wait(timeout=300) == 0, cluster.log(name)[-3000:]

        control = role("control")
        try:
            # the slow starts first, side by side; the hub's DB meanwhile
            start("migrate", [AIRFLOW, "db", "migrate"], control)
            # importing the API server's app takes longest (~25 s loaded) and needs no DB: it
            # starts beside the migration, told not to refuse the DB for being unmigrated yet
            api = {**control, "AIRFLOW__DATABASE__CHECK_MIGRATIONS": "False"}
            start("api", [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port)], api)
            for name in workers:
                cmd = [AIRFLOW, "celery", "worker", "--celery-hostname", f"{name}@%h"]
                cmd += ["--skip-serve-logs", "--without-mingle", "--without-gossip"]
                own = role(name)
                start(name, cmd, {**own, **(worker_env(name, root / name) if worker_env else {})})
            cluster.hub()  # migrates the hub's DB
            finish("migrate")
            start("reserialize", [AIRFLOW, "dags", "reserialize"], control)
            start("scheduler", [AIRFLOW, "scheduler"], control)
            finish("reserialize")
            cluster.wait(
                "the API server",
                lambda: urllib.request.urlopen(f"{cluster.api}/api/v2/monitor/health", timeout=2),
            )
            for name in workers:
                cluster.wait(f"{name} to be ready", functools.partial(_ready, cluster, name))
            yield cluster
        finally:
            for proc in cluster.procs.values():
                if proc.poll() is None:
                    kill_tree(proc)
            _forget_keys(broker, keyprefix)
