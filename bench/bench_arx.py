"""Benchmark: OneSource's k-anonymity search against ARX on the same data, same run.

Usage:
    .venv/bin/python bench/bench_arx.py                          # 1e5, 1e6, 1e7 rows
    .venv/bin/python bench/bench_arx.py --rows 100000 --rows 1000000

ARX (``../shared/tools/arx``, compiled with javac on first use into
``/tmp/arxrun``) is a benchmark baseline only, never a runtime or test
dependency.  The data are bench_kanon's synthetic register (5 quasi-identifiers:
age from birth date, sex, division, occupation, education), written once per
size as ARX's ``data.csv`` plus one ``h_<column>.csv`` per quasi-identifier,
each row a distinct value and its labels at every level of OneSource's own
hierarchy, so both tools search the same lattice.

For each size and suppression limit (0 % and 5 %), k=5:
- ARX: OPTIMAL algorithm, ``Metric.createLossMetric(0.5)`` (generalization and
  suppression weighted equally); its own reported time covers the
  anonymization call only, the wall time includes JVM start and CSV loading;
- OneSource: ``k_anonymize`` in a child process on the Arrow table (encoding,
  search and the output table are all inside the time).
Both chosen nodes are then scored with OneSource's loss (suppressed records
charged as fully generalized) and their suppressed records counted on the
same lattice; ARX's own suppressed count and loss are printed next to them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
ARX = (HERE.parent.parent / "shared" / "tools" / "arx").resolve()
CLASSES = Path("/tmp/arxrun")
K = 5


def _qis() -> list:
    sys.path.insert(0, str(HERE))
    from bench_kanon import quasi_identifiers

    return quasi_identifiers()


def _people(rows: int) -> pa.Table:
    sys.path.insert(0, str(HERE))
    from bench_kanon import people

    return people(rows)


def export(rows: int, folder: Path) -> None:
    """Write ARX's input: data.csv (;) and one hierarchy file per quasi-identifier."""
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    folder.mkdir(parents=True, exist_ok=True)
    table = _people(rows)
    qis = _qis()
    cols = {}
    for q in qis:
        text = q.hierarchy.apply(table[q.name].combine_chunks(), 0)
        cols[q.name] = text
        distinct = pc.unique(table[q.name].combine_chunks())
        levels = [q.hierarchy.apply(distinct, lv) for lv in range(q.hierarchy.levels)]
        h = pa.table({f"l{i}": lv for i, lv in enumerate(levels)})
        opts = pacsv.WriteOptions(include_header=False, delimiter=";", quoting_style="none")
        pacsv.write_csv(h, folder / f"h_{q.name}.csv", opts)
    cols["income"] = pc.cast(table["income"], pa.string())
    opts = pacsv.WriteOptions(delimiter=";", quoting_style="none")
    pacsv.write_csv(pa.table(cols), folder / "data.csv", opts)


def compile_arx() -> None:
    if (CLASSES / "ArxRun.class").exists():
        return
    CLASSES.mkdir(parents=True, exist_ok=True)
    cp = f"{ARX}/arx-core.jar:{ARX}/lib/*"
    subprocess.run(
        ["javac", "-nowarn", "-cp", cp, "-d", str(CLASSES), str(ARX / "ArxRun.java")], check=True
    )


def run_arx(folder: Path, limit: float, heap: str) -> dict:
    cp = f"{CLASSES}:{ARX}/arx-core.jar:{ARX}/lib/*"
    cmd = ["java", f"-Xmx{heap}", "-cp", cp, "ArxRun", str(folder), str(K), "1", ""]
    cmd += [str(limit), "0.5"]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall_s"] = round(wall, 2)
    return res


def case_onesource(rows: int, limit: float, arx_levels: dict[str, int] | None) -> dict:
    """k_anonymize, then score both chosen nodes on one lattice."""
    from onesource.anonymize.kanon import build_lattice, k_anonymize

    table = _people(rows)
    qis = _qis()
    t = time.perf_counter()
    res = k_anonymize(table, qis, k=K, suppression_limit=limit)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lat = build_lattice(table, qis, k=K, suppression_limit=limit)
    ours = tuple(res.levels[q.name] for q in qis)
    out = {
        "seconds": round(seconds, 2),
        "levels": list(ours),
        "suppressed": res.suppressed,
        "loss": round(lat.total_loss(ours), 6),
        "rss_peak_mb": round(peak),
    }
    if arx_levels is not None:
        theirs = tuple(arx_levels[q.name] for q in qis)
        out["arx_loss"] = round(lat.total_loss(theirs), 6)
        out["arx_suppressed_here"] = lat.check(theirs).outliers
        out["arx_satisfies_here"] = lat.check(theirs).satisfies
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, action="append")
    p.add_argument("--data", default="/tmp/bench-arx")
    p.add_argument("--child", nargs="*")
    a = p.parse_args()
    if a.child is not None:
        rows, limit, levels = int(a.child[0]), float(a.child[1]), json.loads(a.child[2])
        print(json.dumps(case_onesource(rows, limit, levels)))
        return
    compile_arx()
    sizes = a.rows or [100_000, 1_000_000, 10_000_000]
    print("## OneSource vs ARX (k-anonymity, same data, same run)\n")
    print(f"Command: `.venv/bin/python bench/bench_arx.py` on {os.cpu_count()} cores.\n")
    print(
        "| rows | supp. limit | ARX s (anonymize / wall) | OneSource s | speed-up "
        "| levels ARX / OneSource (age, sex, div, occ, edu) | suppressed ARX / OneSource "
        "| loss ARX / OneSource | ARX own loss | OneSource peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rows in sizes:
        folder = Path(a.data) / str(rows)
        t = time.perf_counter()
        export(rows, folder)
        export_s = time.perf_counter() - t
        heap = "12g" if rows >= 5_000_000 else "4g"
        for limit in (0.0, 0.05):
            arx = run_arx(folder, limit, heap)
            levels = arx.get("levels")
            cmd = [sys.executable, __file__, "--child", str(rows), str(limit), json.dumps(levels)]
            r = json.loads(
                subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[
                    -1
                ]
            )
            lv_arx = ", ".join(str(v) for v in levels.values()) if levels else "infeasible"
            lv_os = ", ".join(str(v) for v in r["levels"])
            speed = arx["seconds"] / r["seconds"] if r["seconds"] else float("inf")
            print(
                f"| {rows:,} | {limit:.0%} | {arx['seconds']:.2f} / {arx['wall_s']:.1f} "
                f"| {r['seconds']:.2f} | {speed:.1f}x | {lv_arx} / {lv_os} "
                f"| {arx.get('suppressed', 0):,} / {r['suppressed']:,} "
                f"| {r.get('arx_loss', float('nan')):.4f} / {r['loss']:.4f} "
                f"| {arx.get('loss')} | {r['rss_peak_mb']} |",
                flush=True,
            )
            if r.get("arx_suppressed_here") is not None and r["arx_suppressed_here"] != arx.get(
                "suppressed"
            ):
                print(
                    f"  note: ARX's node suppresses {r['arx_suppressed_here']:,} records on "
                    f"OneSource's lattice, ARX reports {arx.get('suppressed'):,}",
                    flush=True,
                )
        print(f"  (export of {rows:,} rows to ARX's CSV: {export_s:.1f} s, not timed above)")
    _ = np  # numpy is imported by the data generator


if __name__ == "__main__":
    main()
