"""Demo seed: the full ``onesource demo seed --people N`` vs. a trivial vectorized write.

Each case runs in its own child process (peak RSS from /proc VmHWM):

- ``seed``: the console command itself, ``onesource demo seed --people N --home <tmp>``
  run through ``onesource.cli.main.run()`` in the child (imports, the catalog
  load, every department's source in its format, the rich summary table).
  ``onesource.demo.seed`` is wrapped only to timestamp its progress steps
  (``residents`` = people generation, ``departments`` = the derived datasets,
  then ``writing <connection>`` for each source) and to count the rows written;
- ``baseline``: the same number of rows as people, 8 numpy-random columns
  (int64, two strings from pools, date, int32, float64, int64, bool) -> one
  ``pq.write_table`` Parquet file: what "writing N rows" costs at the least.

Seconds are from the child's first import to the end; "process s" is the
parent's wall clock around the child (interpreter start included).

Usage: .venv/bin/python bench/bench_seed.py [--people 1000000] [--repeat 1]
Prints a markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import peak_rss_mb

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 60.0


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def child_seed(people: int, home: str) -> dict[str, object]:
    t0 = time.perf_counter()
    import onesource.demo

    steps: list[tuple[str, float]] = []
    rows: dict[str, int] = {}
    clock: dict[str, object] = {"step": "imports, CLI start", "at": t0}
    real_seed = onesource.demo.seed

    def lap(next_step: str) -> None:
        now = time.perf_counter()
        steps.append((str(clock["step"]), now - float(clock["at"])))  # type: ignore[arg-type]
        clock.update(step=next_step, at=now)

    def timed_seed(*args, **kwargs):  # type: ignore[no-untyped-def]
        shown = kwargs.get("progress") or (lambda step: None)

        def progress(step: str) -> None:
            lap(step)
            shown(step)

        kwargs["progress"] = progress
        lap("catalog load (seed setup)")
        summary = real_seed(*args, **kwargs)
        lap("CLI summary table")
        rows.update(summary.rows)
        return summary

    onesource.demo.seed = timed_seed
    from onesource.cli.main import run

    sys.argv = ["onesource", "demo", "seed", "--people", str(people), "--home", home]
    try:
        run()
    except SystemExit as exc:
        if exc.code:
            raise
    lap("end")
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "rss_mb": peak_rss_mb(),
        "steps": steps,
        "rows": rows,
        "mb": du_mb(Path(home)),
    }


def child_baseline(people: int, out: str) -> dict[str, object]:
    t0 = time.perf_counter()
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    n = people
    names = pa.array([f"居民{i:05d}" for i in range(50_000)])
    streets = pa.array([f"清源路{i}号" for i in range(1000)])
    table = pa.table(
        {
            "id": np.arange(n, dtype=np.int64) + 339902_1970_0101_000,
            "name": names.take(pa.array(rng.integers(0, len(names), n))),
            "address": streets.take(pa.array(rng.integers(0, len(streets), n))),
            "birth_date": pa.array(rng.integers(-9000, 20_000, n).astype("int32")).cast(
                pa.date32()
            ),
            "division": rng.integers(339902, 339982, n, dtype=np.int32),
            "amount": np.round(rng.uniform(0, 5000, n), 2),
            "mobile": rng.integers(13_000_000_000, 19_999_999_999, n),
            "flag": rng.random(n) < 0.5,
        }
    )
    pq.write_table(table, f"{out}/people.parquet")
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "rss_mb": peak_rss_mb(),
        "steps": [],
        "rows": {"baseline": n},
        "mb": du_mb(Path(out)),
    }


def run_case(case: str, people: int) -> dict[str, object]:
    out = tempfile.mkdtemp(prefix=f"bench-seed-{case}-")
    try:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, __file__, "--child", case, str(people), out],
            cwd=REPO,  # the seeder reads ./catalog
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
        if proc.returncode:
            raise SystemExit(f"{case} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["process_s"] = wall
        return result  # type: ignore[no-any-return]
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=1, help="best of N (by seconds) per case")
    ap.add_argument("--child", nargs=3, metavar=("CASE", "PEOPLE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        case, people, out = args.child
        result = (child_seed if case == "seed" else child_baseline)(int(people), out)
        sys.stdout.flush()
        print("\n" + json.dumps(result))
        return

    best: dict[str, dict[str, object]] = {}
    for i in range(args.repeat):
        for case in ("baseline", "seed"):
            got = run_case(case, args.people)
            print(f"run {i + 1} {case}: {got['seconds']:.1f} s", file=sys.stderr, flush=True)
            if case not in best or got["seconds"] < best[case]["seconds"]:  # type: ignore[operator]
                best[case] = got
    seed, base = best["seed"], best["baseline"]
    s_sec, b_sec = float(seed["seconds"]), float(base["seconds"])  # type: ignore[arg-type]
    rows = sum(seed["rows"].values())  # type: ignore[union-attr]
    cmd = f".venv/bin/python bench/bench_seed.py --people {args.people}"
    if args.repeat > 1:
        cmd += f" --repeat {args.repeat}"
    print("## Demo seed\n")
    print(
        f"`{cmd}`, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}; best of {args.repeat}; each case in its own process.\n"
    )
    print(
        "| case | seconds | process s | people/s | rows written | rows/s | peak RSS MB | "
        "on disk MB | time vs baseline |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r, n_rows in (("seed", seed, rows), ("baseline", base, args.people)):
        sec = float(r["seconds"])  # type: ignore[arg-type]
        print(
            f"| {name} | {sec:.1f} | {float(r['process_s']):.1f} | "  # type: ignore[arg-type]
            f"{args.people / sec:,.0f} | {n_rows:,} | {n_rows / sec:,.0f} | "
            f"{float(r['rss_mb']):,.0f} | {float(r['mb']):,.0f} | {sec / b_sec:.1f}x |"  # type: ignore[arg-type]
        )
    verdict = "met" if s_sec < TARGET_S else "NOT met"
    print(
        f"\nTarget (full seed of {args.people:,} people < {TARGET_S:.0f} s): **{verdict}** "
        f"({s_sec:.1f} s).\n"
    )
    print("| seed step | seconds | share |")
    print("|---|---|---|")
    for step, sec in seed["steps"]:  # type: ignore[union-attr]
        print(f"| {step} | {sec:.2f} | {100 * sec / s_sec:.0f}% |")
    print("\n| source table | rows |")
    print("|---|---|")
    for name, n in seed["rows"].items():  # type: ignore[union-attr]
        print(f"| {name} | {n:,} |")


if __name__ == "__main__":
    main()
