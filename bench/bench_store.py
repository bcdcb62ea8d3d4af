"""Store write path: 1e7 rows through VersionWriter vs. plain pyarrow writes.

Each variant runs in its own child process so its peak RSS (ru_maxrss) is its
own.  Variants, all writing the same generated 64k-row batches (zstd):

- ``version-writer``: Store.open_writer -> write(batch) ... -> commit()
  (staging folder, fsync, rename, DB pointer move);
- ``parquet-writer``: a bare pq.ParquetWriter streaming the same batches;
- ``write-table``: the batches gathered into one Table, then pq.write_table
  (the naive baseline the brief names).

Usage: .venv/bin/python bench/bench_store.py [--rows 10000000] [--batch 65536]
Prints a markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

variant, rows, batch, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
schema = pa.schema([("id", pa.int64()), ("dept", pa.int32()), ("amount", pa.float64()),
                    ("name", pa.string())])
pool = pa.array([f"name-{i:05d}" for i in range(5000)])
rng = np.random.default_rng(7)

def batches():
    for start in range(0, rows, batch):
        n = min(batch, rows - start)
        yield pa.record_batch([
            pa.array(np.arange(start, start + n, dtype=np.int64)),
            pa.array(rng.integers(0, 40, n, dtype=np.int32)),
            pa.array(rng.random(n) * 1000),
            pool.take(pa.array(rng.integers(0, len(pool), n))),
        ], schema=schema)

# one-off costs outside the timed part: pyarrow's first numpy conversion imports
# pandas (~1 s here), and opening a store imports SQLAlchemy and migrates the DB
pa.array(np.arange(3))
if variant == "version-writer":
    from onesource.store import Store
    store = Store(f"sqlite:///{out}/meta.db", f"{out}/warehouse")
t0 = time.perf_counter()
if variant == "version-writer":
    run = store.begin_run("ingest", "bench")
    with store.open_writer("resource", "bench", run.id, schema) as w:
        for b in batches():
            w.write(b)
        info = w.commit()
    run.finish()
    size = info.bytes
elif variant == "parquet-writer":
    with pq.ParquetWriter(f"{out}/data.parquet", schema, compression="zstd") as w:
        for b in batches():
            w.write_batch(b)
    size = __import__("os").path.getsize(f"{out}/data.parquet")
else:
    table = pa.Table.from_batches(list(batches()), schema=schema)
    pq.write_table(table, f"{out}/data.parquet", compression="zstd")
    size = __import__("os").path.getsize(f"{out}/data.parquet")
elapsed = time.perf_counter() - t0
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"variant": variant, "seconds": elapsed, "rss_mb": rss_mb, "bytes": size}))
"""

VARIANTS = ("version-writer", "parquet-writer", "write-table")


def run_variant(variant: str, rows: int, batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-store-") as out:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-c", CHILD, variant, str(rows), str(batch), out],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=65_536)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    results: dict[str, dict[str, float]] = {}
    for _ in range(args.repeat):
        for variant in VARIANTS:
            got = run_variant(variant, args.rows, args.batch)
            best = results.get(variant)
            if best is None or got["seconds"] < best["seconds"]:
                results[variant] = got
    base = results["write-table"]
    stream = results["parquet-writer"]
    cmd = f".venv/bin/python bench/bench_store.py --rows {args.rows} --batch {args.batch}"
    if args.repeat > 1:
        cmd += f" --repeat {args.repeat}"
    print("## Store write path\n")
    print(
        f"`{cmd}`, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}. {args.rows:,} rows (int64, int32, float64, string), "
        f"{args.batch:,}-row batches, zstd; best of {args.repeat}; each variant in its own process.\n"
    )
    print(
        "| variant | seconds | rows/s | peak RSS (MB) | file MB | rows/s vs write_table | RSS vs write_table |"
    )
    print("|---|---|---|---|---|---|---|")
    for variant in VARIANTS:
        r = results[variant]
        rate = args.rows / r["seconds"]
        print(
            f"| {variant} | {r['seconds']:.2f} | {rate / 1e6:.2f} M | {r['rss_mb']:.0f} | "
            f"{r['bytes'] / 1e6:.0f} | {rate / (args.rows / base['seconds']):.2f}x | "
            f"{r['rss_mb'] / base['rss_mb']:.2f}x |"
        )
    overhead = results["version-writer"]["seconds"] / stream["seconds"]
    print(f"\nVersionWriter vs. a bare streaming ParquetWriter: {overhead:.2f}x the time.")


if __name__ == "__main__":
    main()
