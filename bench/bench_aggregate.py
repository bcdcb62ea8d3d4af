"""Benchmark: audited cell suppression of a 3-dimensional table with its margins.

Usage:
    .venv/bin/python bench/bench_aggregate.py                # 12 x 10 x 10 = 1,200 cells
    .venv/bin/python bench/bench_aggregate.py --rows 200000 --shape 20 12 10

Synthetic hotline-like tickets: district x month x category, skewed so that
a share of the cells are small or empty.  Timed in the same run: a plain
pyarrow group-by of the same rows (the unprotected table), and the full
``aggregate`` (all cells and margins listed, primary suppression, cost-based
complements, the LP/ILP audit of every sensitive cell).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pyarrow as pa


def tickets(rows: int, shape: tuple[int, int, int], seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    cols = {}
    for name, n in zip(("district", "month", "category"), shape, strict=True):
        w = 1.0 / np.arange(1, n + 1) ** 1.2
        cols[name] = np.array([f"{name[0]}{i:02d}" for i in range(n)])[
            rng.choice(n, rows, p=w / w.sum())
        ]
    return pa.table(cols)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=60_000)
    ap.add_argument("--shape", type=int, nargs=3, default=[12, 10, 10])
    ap.add_argument("--threshold", type=int, default=5)
    args = ap.parse_args()
    from onesource.anonymize.aggregate import aggregate

    t = tickets(args.rows, tuple(args.shape))
    by = ["district", "month", "category"]
    t0, c0 = time.perf_counter(), time.process_time()
    plain = t.group_by(by, use_threads=False).aggregate([([], "count_all")])
    t_plain, c_plain = time.perf_counter() - t0, time.process_time() - c0
    import highspy  # noqa: F401
    import scipy.optimize  # noqa: F401  - import time is not audit time

    t0, c0 = time.perf_counter(), time.process_time()
    res = aggregate(t, by, threshold=args.threshold, margins=True)
    t_audit, c_audit = time.perf_counter() - t0, time.process_time() - c0
    cells = int(np.prod(args.shape))
    out = {
        "rows": args.rows,
        "shape": args.shape,
        "cells": cells,
        "cells_with_margins": res.table.num_rows,
        "nonempty_cells": plain.num_rows,
        "primary": res.primary,
        "complementary": res.complementary,
        "proved": res.exact_checked,
        "lp_solved": res.audit["lp_solved"],
        "groupby_s": round(t_plain, 4),
        "protected_s": round(t_audit, 3),
        "ratio": round(t_audit / t_plain, 1),
        # the machine is shared: CPU time of this process is the steadier figure
        "groupby_cpu_s": round(c_plain, 4),
        "protected_cpu_s": round(c_audit, 3),
        "cpu_ratio": round(c_audit / max(c_plain, 1e-9), 1),
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
