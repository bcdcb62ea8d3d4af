"""Landing SQL sources: SqlSource -> one Parquet file vs. the raw Arrow path.

For each backend (SQLite file, PostgreSQL) and row count, a table of 6 typed
columns (id bigint, division code text, name text, amount numeric(12,2),
birth date, updated timestamp) is generated with numpy and loaded with ADBC
ingest (COPY on PostgreSQL).  Then, each in its own child process so peak RSS
(ru_maxrss) is its own:

- ``connector``: ``SqlSource.extract(...)`` (engine auto = ADBC), every batch cast
  to the pinned schema, written with ``pq.ParquetWriter``;
- ``raw``: ADBC ``cursor.fetch_record_batch()`` of ``SELECT *`` straight into
  ``pq.ParquetWriter`` (no casting; the fastest path measured in FIELD-NOTES.md);
- ``raw-text`` (PostgreSQL): the same with ``amount::text``, the trick SqlSource
  uses (ADBC reads numeric twice as slowly as text).  The ratio is against the
  faster raw variant.

Usage: .venv/bin/python bench/bench_landing.py --rows 1000000 10000000 [--backends sqlite postgres]
Prints a markdown section for bench/RESULTS.md.  PostgreSQL URL from
ONESOURCE_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test).
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

from benchlib import peak_rss_mb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PG = os.environ.get("ONESOURCE_TEST_POSTGRES_ADBC", "postgresql://postgres@127.0.0.1:5432/test")
TABLE = "bench_landing"


def generate(rows: int, chunk: int = 1_000_000):  # type: ignore[no-untyped-def]
    """Arrow tables of the bench data, ``chunk`` rows at a time."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(7)
    names = pa.array([f"居民{i:05d}" for i in range(50_000)])
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        ids = np.arange(start, start + n, dtype=np.int64)
        division = pa.array((330100 + rng.integers(1, 20, n)).astype(str))
        amount = pa.array(np.round(rng.uniform(0, 5000, n), 2))
        birth = pa.array(rng.integers(-10_000, 19_000, n).astype("int32"), pa.int32()).cast(
            pa.date32()
        )
        ts = pa.array(
            (1_700_000_000_000_000 + rng.integers(0, 10**13, n)).astype("int64"), pa.timestamp("us")
        )
        yield pa.table(
            {
                "id": ids,
                "division": division,
                "name": names.take(pa.array(rng.integers(0, 50_000, n))),
                "amount": amount,
                "birth_date": birth,
                "updated_at": ts,
            }
        )


def load(backend: str, rows: int, path: str) -> float:
    """Create and fill the source table; returns seconds."""
    import pyarrow as pa

    t0 = time.perf_counter()
    if backend == "sqlite":
        import adbc_driver_sqlite.dbapi as dbapi

        conn = dbapi.connect(path)
    else:
        import adbc_driver_postgresql.dbapi as dbapi

        conn = dbapi.connect(PG)
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
        for i, table in enumerate(generate(rows)):
            if backend == "sqlite":  # SQLite's conventions: dates and times as ISO text
                table = table.set_column(4, "birth_date", table["birth_date"].cast(pa.string()))
                ts = table["updated_at"].cast(pa.string())
                table = table.set_column(5, "updated_at", ts)
            else:
                table = table.set_column(3, "amount", table["amount"].cast(pa.decimal128(12, 2)))
            cur.adbc_ingest(TABLE, table, mode="create" if i == 0 else "append")
    conn.commit()
    conn.close()
    return time.perf_counter() - t0


def child(case: str, backend: str, path: str, out: str) -> dict[str, float]:
    """Run one case in this process; returns rows, seconds and peak RSS."""
    import adbc_driver_postgresql.dbapi  # noqa: F401  imports are not what we measure
    import adbc_driver_sqlite.dbapi  # noqa: F401
    import pyarrow as pa
    import pyarrow.compute
    import pyarrow.parquet as pq
    import sqlalchemy  # noqa: F401

    import connectors.sql  # noqa: F401

    t0 = time.perf_counter()
    rows = 0
    writer = None
    if case.startswith("raw"):
        if backend == "sqlite":
            import adbc_driver_sqlite.dbapi as dbapi

            conn = dbapi.connect(path)
        else:
            import adbc_driver_postgresql.dbapi as dbapi

            conn = dbapi.connect(PG)
        cur = conn.cursor()
        if backend == "sqlite":
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "100000"})
        query = f"SELECT * FROM {TABLE}"
        if case == "raw-text":  # numeric as text: what SqlSource asks PostgreSQL for
            query = f"SELECT id, division, name, amount::text AS amount, birth_date, updated_at FROM {TABLE}"
        cur.execute(query)
        for batch in cur.fetch_record_batch():
            writer = writer or pq.ParquetWriter(out, batch.schema)
            writer.write_batch(batch)
            rows += batch.num_rows
        conn.close()
    else:
        from connectors.base import SourceState
        from connectors.sql import SqlSource
        from schemas.connector import SqlConnector
        from schemas.resource import Resource

        os.environ["ONESOURCE_CONN_BENCH_DB"] = f"sqlite:///{path}" if backend == "sqlite" else PG
        schema = pa.schema(
            [
                pa.field("id", pa.int64(), nullable=False),
                ("division", pa.string()),
                ("name", pa.string()),
                ("amount", pa.decimal128(12, 2)),
                ("birth_date", pa.date32()),
                ("updated_at", pa.timestamp("us")),
            ]
        )
        res = Resource.model_construct(
            name="bench_landing",
            connector=SqlConnector(type="sql", connection="bench_db", table=TABLE),
        )
        ex = SqlSource().extract(res, schema, SourceState())
        with pq.ParquetWriter(out, schema) as w:
            for batch in ex.batches():
                w.write_batch(batch)
                rows += batch.num_rows
        assert not ex.rejects, ex.rejects[:3]
    if writer is not None:
        writer.close()
    seconds = time.perf_counter() - t0
    rss_mb = peak_rss_mb()
    return {"rows": rows, "seconds": seconds, "rss_mb": rss_mb}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    ap.add_argument("--child", nargs=4, metavar=("CASE", "BACKEND", "PATH", "OUT"))
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    lines = [
        "| backend | rows | load s | SqlSource rows/s | best raw ADBC rows/s | ratio | SqlSource peak RSS MB | raw peak RSS MB | other raw rows/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            for rows in args.rows:
                db = str(Path(tmp) / "bench.db")
                loaded = load(backend, rows, db)
                result = {}
                cases = (
                    ("raw", "raw-text", "connector")
                    if backend == "postgres"
                    else ("raw", "connector")
                )
                for case in cases:
                    out = str(Path(tmp) / f"{case}.parquet")
                    proc = subprocess.run(
                        [sys.executable, __file__, "--child", case, backend, db, out],
                        capture_output=True,
                        text=True,
                        cwd=REPO,
                    )
                    if proc.returncode:
                        raise SystemExit(proc.stderr)
                    result[case] = json.loads(proc.stdout.strip().splitlines()[-1])
                    os.remove(out)
                c = result.pop("connector")
                best, r = max(result.items(), key=lambda kv: kv[1]["rows"] / kv[1]["seconds"])
                rate_r, rate_c = r["rows"] / r["seconds"], c["rows"] / c["seconds"]
                others = ", ".join(
                    f"{k} {v['rows'] / v['seconds']:,.0f}" for k, v in result.items() if k != best
                )
                lines.append(
                    f"| {backend} | {rows:,} | {loaded:.1f} | {rate_c:,.0f} | {rate_r:,.0f} ({best}) | "
                    f"{rate_c / rate_r:.2f} | {c['rss_mb']:,.0f} | {r['rss_mb']:,.0f} | {others or '-'} |"
                )
                print(lines[-1], file=sys.stderr, flush=True)
                if os.path.exists(db):
                    os.remove(db)
        if "postgres" in args.backends:
            drop_pg_table()
    print("\n".join(lines))


def drop_pg_table() -> None:
    import adbc_driver_postgresql.dbapi as dbapi

    with dbapi.connect(PG) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.commit()


if __name__ == "__main__":
    main()
