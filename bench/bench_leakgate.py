"""Benchmark: the leak gate on a release-shaped table of 1e6 rows.

Columns like a microdata release: a pseudonym, two categorical quasi
columns, a float amount, an int count, and a free-text column (short
Chinese remarks, 20% distinct) checked against 200,000 input names and
their ID numbers and mobiles.  Measures, in the same run: writing the three
data files (the baseline every release pays), ``scan`` on the table, and
``scan_files`` on the written files (as the build runs it: Parquet skipped when it
reads back equal, JSON only for columns ``json.dumps`` turns into text).  Prints markdown.

    .venv/bin/python bench/bench_leakgate.py [--rows 1000000] [--names 200000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa


def make(rows: int, names: int, seed: int = 7) -> tuple[pa.Table, dict[str, pa.Array]]:
    from onesource.demo.people import names as person_names

    rng = np.random.default_rng(seed)
    people = person_names(rng, names)
    ids = np.char.add("3399021980", np.char.zfill(rng.integers(0, 10**8, names).astype(str), 8))
    mobiles = np.char.add("139", np.char.zfill(rng.integers(0, 10**8, names).astype(str), 8))
    words = np.array(
        ["噪音扰民", "道路破损", "路灯不亮", "垃圾清运", "占道经营", "已办结", "回访满意"]
    )
    remark = np.char.add(
        np.char.add(words[rng.integers(0, len(words), rows)], "第"),
        rng.integers(0, rows // 5, rows).astype(str),
    )
    table = pa.table(
        {
            "patient": pa.array(
                [bytes(x).hex() for x in rng.integers(0, 256, (rows, 16), dtype=np.uint8)]
            ),
            "age": pa.array(
                np.array(["20-24", "25-29", "30-34", "35-39"])[rng.integers(0, 4, rows)]
            ),
            "division": pa.array(rng.choice(["3399", "3398", "3397"], rows)),
            "fee": pa.array(np.round(rng.lognormal(4, 1, rows), 2)),
            "visits": pa.array(rng.integers(0, 50, rows)),
            "remark": pa.array(remark),
        }
    )
    direct = {
        "name": pa.array(people),
        "id_number": pa.array(ids),
        "mobile": pa.array(mobiles),
    }
    return table, direct


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--names", type=int, default=200_000)
    args = ap.parse_args()
    from onesource.anonymize.leakgate import prepare_direct, scan, scan_files
    from onesource.release.publish import data_files

    table, direct = make(args.rows, args.names)
    cls = {"patient": "pseudonym", "age": "quasi", "division": "quasi", "fee": "sensitive"}
    cls |= {"visits": "none", "remark": "none"}
    t0 = time.process_time()
    files = data_files(table)
    t1 = time.process_time()
    matcher = prepare_direct(direct)  # once per release, as the build does
    tm = time.process_time()
    found = scan(table, classification=cls, _direct=matcher)
    t2 = time.process_time()
    found_files = scan_files(files, classification=cls, table=table, _direct=matcher)
    t3 = time.process_time()
    print(
        "| rows | input direct values | write 3 files | build matcher | scan table "
        "| scan files | findings |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {args.rows:,} | {sum(len(v) for v in direct.values()):,} | {t1 - t0:.1f} s "
        f"| {tm - t1:.1f} s | {t2 - tm:.1f} s | {t3 - t2:.1f} s "
        f"| {len(found) + len(found_files)} |"
    )
    print("\n(CPU seconds of this process: the machine is shared)")
    for f in (found + found_files)[:5]:
        print(f"- {f}")


if __name__ == "__main__":
    main()
