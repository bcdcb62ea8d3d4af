"""Sizing a cluster: N resources of R rows ingested by one Celery worker vs two, same run.

Each configuration gets a fresh cluster (``tests/orchestration/cluster.py``: PostgreSQL for
Airflow's and the hub's metadata, Redis broker, warehouse in a bucket of the local S3 server
(moto, in this process), an API server, a scheduler, and 1 or 2 ``airflow celery worker``
processes of concurrency 1 with separate homes).  The catalog is the demo's plus N copies
of ``population_register`` (9 columns, its quality rules, full snapshots), each reading its
own SQLite table of R rows (the demo's residents); only the copies' DAGs are unpaused.

Measured per configuration: wall time from unpausing the N DAGs to the last run finished;
each task's Airflow duration and the hub run's own duration inside it (extract, check,
commit), hence Airflow's fixed overhead per task; peak RSS of each worker's process tree
(sampled every 0.25 s), of its largest process (the task) and of the API server and the
scheduler; load average before and after.

Usage: .venv/bin/python bench/bench_cluster.py --resources 10 --rows 200000
Needs PostgreSQL and Redis on 127.0.0.1 (as the tests).  Prints a markdown section for
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PG = os.environ.get("ONESOURCE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("ONESOURCE_TEST_REDIS", "redis://127.0.0.1:6379/0")
TEMPLATE = REPO / "catalog" / "resources" / "psb" / "population_register.yaml"


def make_catalog(dest: Path, resources: int) -> list[str]:
    """The demo catalog plus N copies of population_register (the demo's DAGs stay paused)."""
    import yaml

    shutil.copytree(REPO / "catalog", dest)
    doc = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    doc.pop("source_of", None)  # the original stays the authoritative source
    names = []
    for i in range(resources):
        name = f"residents_{i:02d}"
        copy = dict(doc, name=name, title=f"{doc['title']}（{i:02d}）", code=f"101/9{i:05d}")
        copy["connector"] = {"type": "sql", "connection": "bench_db", "table": f"t{i:02d}"}
        (dest / "resources" / "psb" / f"{name}.yaml").write_text(
            yaml.safe_dump(copy, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
        names.append(name)
    from onesource.catalog.loader import load_catalog

    load_catalog(dest).raise_for_issues()
    return names


def make_source(path: Path, resources: int, rows: int) -> None:
    """One SQLite database, a table of ``rows`` residents per resource."""
    import numpy as np

    from onesource.demo import datasets as ds
    from onesource.demo import writers as w
    from onesource.demo.people import generate_people

    folk = generate_people(rows, 7)
    table = ds.population(np.random.default_rng(7), folk, {}).slice(0, rows)
    w.sqlite_table(path, "t00", table)
    with sqlite3.connect(path) as con:
        for i in range(1, resources):
            con.execute(f"CREATE TABLE t{i:02d} AS SELECT * FROM t00")


class Sampler(threading.Thread):
    """Peak RSS of each worker's process tree and of its largest process."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.tree_peak = dict.fromkeys(pids, 0.0)
        self.proc_peak = dict.fromkeys(pids, 0.0)
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stop.wait(0.25):
            for name, pid in self.pids.items():
                try:
                    root = psutil.Process(pid)
                    procs = [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    continue
                sizes = []
                for proc in procs:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        sizes.append(proc.memory_info().rss / 2**20)
                self.tree_peak[name] = max(self.tree_peak[name], sum(sizes))
                self.proc_peak[name] = max(self.proc_peak[name], max(sizes, default=0.0))


def _seconds(start: str | None, end: str | None) -> float:
    if not start or not end:
        return float("nan")
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def measure(
    workers: int, names: list[str], catalog: Path, source: Path, root: Path
) -> dict[str, Any]:
    from tests.orchestration.cluster import running_cluster

    env = {
        "ONESOURCE_CATALOG": str(catalog),
        "ONESOURCE_CONN_BENCH_DB": json.dumps({"conn_type": "sqlite", "schema": str(source)}),
        # long tasks on a loaded machine: Airflow's default heartbeat timeout, not the test's
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "300",
    }
    worker_names = [f"worker-{c}" for c in "ab"[:workers]]
    started = time.monotonic()
    with running_cluster(root, PG, REDIS, workers=worker_names, env=env) as cluster:
        startup = time.monotonic() - started
        sampler = Sampler({w: cluster.procs[w].pid for w in [*worker_names, "api", "scheduler"]})
        sampler.start()
        load_before = os.getloadavg()
        dag_ids = [f"ingest__{n}" for n in names]
        t0 = time.monotonic()
        for dag_id in dag_ids:
            cluster.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        runs = cluster.wait_runs(dag_ids, timeout=3600)
        wall = time.monotonic() - t0
        load_after = os.getloadavg()
        sampler.stop.set()
        sampler.join()
        failed = [d for d, r in runs.items() if r["state"] != "success"]
        tasks = []
        for dag_id, run in runs.items():
            ti = cluster.call(
                "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances/ingest"
            )
            tasks.append(_seconds(ti["start_date"], ti["end_date"]))
        store = cluster.hub()
        hub_runs = [r for r in store.runs(limit=1000) if r.status == "succeeded"]
        pipeline = [(r.finished_at - r.started_at).total_seconds() for r in hub_runs]
        rows = sum(r.rows_read or 0 for r in hub_runs)
        per_worker = {w: len({d for d, _, _ in cluster.attempts(w)}) for w in worker_names}
    return {
        "workers": workers,
        "startup": startup,
        "wall": wall,
        "failed": failed,
        "task_mean": statistics.fmean(tasks),
        "pipeline_mean": statistics.fmean(pipeline) if pipeline else float("nan"),
        "rows": rows,
        "per_worker": per_worker,
        "tree_peak": {w: sampler.tree_peak[w] for w in worker_names},
        "proc_peak": {w: sampler.proc_peak[w] for w in worker_names},
        "control_peak": sampler.tree_peak["api"] + sampler.tree_peak["scheduler"],
        "load": (load_before[0], load_after[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=10)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    try:
        names = make_catalog(base / "catalog", args.resources)
        t = time.monotonic()
        make_source(base / "departments" / "bench.db", args.resources, args.rows)
        print(f"sources: {time.monotonic() - t:.1f} s", file=sys.stderr)
        results = []
        for k in args.workers:
            result = measure(
                k, names, base / "catalog", base / "departments" / "bench.db", base / f"w{k}"
            )
            print(json.dumps(result, default=str), file=sys.stderr)
            results.append(result)
        report(args, results)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def report(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    base = results[0]
    order = " ".join(str(k) for k in args.workers)
    print(
        f"`.venv/bin/python bench/bench_cluster.py --resources {args.resources} "
        f"--rows {args.rows} --workers {order}`, {os.cpu_count()} cores, "
        f"{datetime.now():%Y-%m-%d}.\n"
    )
    print(
        "| workers | wall s | vs first | tasks per worker | task s (mean) | pipeline s (mean) "
        "| Airflow overhead s | rows/s | peak RSS per worker tree MB | largest process MB "
        "| API server + scheduler MB | load avg before/after | cluster start s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['workers']} | {r['wall']:.1f} | {r['wall'] / base['wall']:.2f}x "
            f"| {', '.join(str(v) for v in r['per_worker'].values())} "
            f"| {r['task_mean']:.1f} | {r['pipeline_mean']:.1f} "
            f"| {r['task_mean'] - r['pipeline_mean']:.1f} | {r['rows'] / r['wall']:,.0f} "
            f"| {', '.join(f'{v:.0f}' for v in r['tree_peak'].values())} "
            f"| {', '.join(f'{v:.0f}' for v in r['proc_peak'].values())} "
            f"| {r['control_peak']:.0f} | {r['load'][0]:.1f} / {r['load'][1]:.1f} "
            f"| {r['startup']:.0f} |"
        )
        if r["failed"]:
            print(f"\nFAILED runs ({r['workers']} workers): {', '.join(r['failed'])}")


if __name__ == "__main__":
    main()
