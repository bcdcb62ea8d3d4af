"""DAG parse time: the catalog-generated DAG files vs a trivial file of 1,000 empty DAGs.

Each file is parsed in a fresh subprocess (as Airflow's DAG processor does);
the cost of ``import airflow`` + the SDK is measured first in that process and
reported apart.  Usage:

    .venv/bin/python bench/bench_dag_parse.py [--resources 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

CHILD = r"""
import importlib.util, json, sys, time
t0 = time.perf_counter()
import airflow
from airflow.sdk import DAG, Asset, task, get_parsing_context
t1 = time.perf_counter()
spec = importlib.util.spec_from_file_location("dagfile", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
t2 = time.perf_counter()
dags = len({v.dag_id for v in vars(mod).values() if isinstance(v, DAG)})
heavy = [m for m in ("pandas", "great_expectations", "pyarrow", "duckdb", "fastapi") if m in sys.modules]
print(json.dumps({"import_airflow": t1 - t0, "parse": t2 - t1, "dags": dags, "heavy": heavy}))
"""

TRIVIAL = '''"""1,000 empty airflow DAGs (dag baseline)."""
import datetime as dt
from airflow.sdk import DAG
START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
for i in range(1000):
    d = DAG(dag_id=f"trivial_{i}", schedule="@daily", start_date=START, catchup=False)
    globals()[d.dag_id] = d
'''

TRIVIAL_TASK = '''"""1,000 airflow DAGs of one @task each (dag baseline with a task)."""
import datetime as dt
from airflow.sdk import DAG, task
START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
for i in range(1000):
    with DAG(dag_id=f"trivial_{i}", schedule="@daily", start_date=START, catchup=False) as d:
        @task(task_id="t")
        def t() -> None:
            pass
        t()
    globals()[d.dag_id] = d
'''


def parse(path: Path, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(f"{path} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def best(path: Path, env: dict[str, str], repeat: int) -> dict[str, float]:
    runs = [parse(path, env) for _ in range(repeat)]
    return min(runs, key=lambda r: r["parse"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resources", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from gen_catalog import generate

    work = Path(tempfile.mkdtemp(prefix="bench-dag-parse-"))
    catalog = generate(work / "catalog", resources=args.resources, fields=20)
    env = {
        **os.environ,
        "ONESOURCE_CATALOG": str(catalog),
        "ONESOURCE_HOME": str(work / "hub"),
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "onesource" / "dags"),
    }
    files = sorted((REPO / "onesource" / "dags").glob("[!_]*.py"))
    t = time.perf_counter()
    # the first parse validates and caches the catalog
    cold = parse(REPO / "onesource" / "dags" / "ingest_shard_0.py", env)
    cold_wall = time.perf_counter() - t
    ours = {f.name: best(f, env, args.repeat) for f in files}
    trivial = work / "trivial_dags.py"
    trivial.write_text(TRIVIAL, encoding="utf-8")
    trivial_task = work / "trivial_task_dags.py"
    trivial_task.write_text(TRIVIAL_TASK, encoding="utf-8")
    base = best(trivial, env, args.repeat)
    base_task = best(trivial_task, env, args.repeat)

    total = sum(r["parse"] for r in ours.values())
    dags = sum(int(r["dags"]) for r in ours.values())
    worst = max(ours.items(), key=lambda kv: kv[1]["parse"])
    imp = sorted(r["import_airflow"] for r in ours.values())[len(ours) // 2]
    heavy = sorted({h for r in ours.values() for h in r["heavy"]})
    print("## DAG parsing\n")
    print(
        f"Command: `.venv/bin/python bench/bench_dag_parse.py --resources {args.resources} "
        f"--repeat {args.repeat}`; machine: {os.cpu_count()} cores; each file parsed in a fresh "
        f"process, best of {args.repeat}; `import airflow` + SDK ({imp:.2f} s median) not counted.\n"
    )
    print("| what | files | DAGs | parse s (sum) | max per file s | ratio vs empty DAGs |")
    print("|---|---|---|---|---|---|")
    print(
        f"| trivial: 1,000 empty DAGs, one file | 1 | {base['dags']} | {base['parse']:.2f} | "
        f"{base['parse']:.2f} | 1.00 |"
    )
    print(
        f"| trivial: 1,000 DAGs of one `@task`, one file | 1 | {base_task['dags']} | "
        f"{base_task['parse']:.2f} | {base_task['parse']:.2f} | {base_task['parse'] / base['parse']:.2f} |"
    )
    print(
        f"| OneSource `dags/`, {args.resources}-resource catalog (warm plan cache) | {len(files)} | "
        f"{dags} | {total:.2f} | {worst[1]['parse']:.2f} ({worst[0]}) | {total / base['parse']:.2f} |"
    )
    print(
        f"\nRatio vs the one-task baseline (same DAG shape): {total / base_task['parse']:.2f}. "
        f"Cold parse (catalog validated and cached by the first file): {cold['parse']:.2f} s "
        f"({cold_wall:.1f} s wall with interpreter start). Heavy modules loaded while parsing: "
        f"{', '.join(heavy) or 'none'}. Airflow's import timeout is 30 s."
    )


if __name__ == "__main__":
    main()
