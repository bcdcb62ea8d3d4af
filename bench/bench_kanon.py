"""Benchmark: k-anonymity lattice search and keyed pseudonyms.

Usage:
    .venv/bin/python bench/bench_kanon.py                 # 1e6 and 1e7 rows
    .venv/bin/python bench/bench_kanon.py --rows 1000000  # one size

Each case runs in a child process (peak RSS from ru_maxrss).  People are
generated like the demo city's register: birth dates 1930-2020, sex, 6-digit
division codes of ~100 districts of one province (skewed sizes), occupation
(GB/T 6565-like, 8 groups x 6) and education (GB/T 4658-like) codes, income.
k=5 over 5 quasi-identifiers: age from birth date (birth date -> age -> 5 ->
10 -> 20 -> *), sex, division (6 -> 4 -> 2 -> *), occupation (minor -> major
-> *), education (detailed -> major -> *).  Baseline in the same run: a
plain pandas groupby k-check of the chosen node on the generalized table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa

REFERENCE = dt.date(2024, 6, 30)


def people(n: int, seed: int = 7) -> pa.Table:
    """Synthetic register rows, vectorized."""
    rng = np.random.default_rng(seed)
    start = (dt.date(1930, 1, 1) - dt.date(1970, 1, 1)).days
    end = (dt.date(2020, 12, 31) - dt.date(1970, 1, 1)).days
    # more people born 1950-2000 than at the edges
    days = np.clip(rng.normal((start + end) / 2 + 2000, 8000, n), start, end).astype(np.int32)
    sex = rng.choice(np.array([1, 2], dtype=np.int8), n, p=[0.51, 0.49])
    cities = np.arange(1, 12)
    counties = [(c, d) for c in cities for d in range(1, 10)]
    district_codes = np.array([f"33{c:02d}{d:02d}" for c, d in counties])
    weights = 1.0 / np.arange(1, len(district_codes) + 1) ** 0.6
    division = rng.choice(len(district_codes), n, p=weights / weights.sum())
    occ_codes = np.array([f"{g}-{s:02d}" for g in range(1, 9) for s in range(1, 7)])
    ow = rng.dirichlet(np.ones(len(occ_codes)) * 2)
    occupation = rng.choice(len(occ_codes), n, p=ow)
    edu_codes = np.array(["11", "14", "21", "28", "31", "44", "61", "71", "81", "90"])
    ew = np.array([1, 3, 8, 10, 15, 20, 18, 12, 8, 5], dtype=float)
    education = rng.choice(len(edu_codes), n, p=ew / ew.sum())
    income = np.round(rng.lognormal(10.5, 0.6, n), -2).astype(np.int64)
    return pa.table(
        {
            "birth_date": pa.array(days, pa.int32()).cast(pa.date32()),
            "sex": pa.array(sex),
            "division": pa.DictionaryArray.from_arrays(
                pa.array(division.astype(np.int32)), pa.array(district_codes)
            ).cast(pa.string()),
            "occupation": pa.DictionaryArray.from_arrays(
                pa.array(occupation.astype(np.int32)), pa.array(occ_codes)
            ).cast(pa.string()),
            "education": pa.DictionaryArray.from_arrays(
                pa.array(education.astype(np.int32)), pa.array(edu_codes)
            ).cast(pa.string()),
            "income": pa.array(income),
        }
    )


def quasi_identifiers() -> list:
    from onesource.anonymize.hierarchy import (
        AgeBands,
        CodeListHierarchy,
        Flat,
        NumericBands,
        StringPrefix,
    )
    from onesource.anonymize.kanon import QuasiIdentifier

    occ_parent = {f"{g}-{s:02d}": str(g) for g in range(1, 9) for s in range(1, 7)}
    edu_parent = {c: c[0] + "0" for c in ["11", "14", "21", "28", "31", "44", "61", "71", "81"]}
    edu_parent["90"] = "90x"
    return [
        QuasiIdentifier("birth_date", AgeBands(REFERENCE, NumericBands((5, 10, 20), top=90))),
        QuasiIdentifier("sex", Flat()),
        QuasiIdentifier("division", StringPrefix((4, 2))),
        QuasiIdentifier("occupation", CodeListHierarchy(occ_parent)),
        QuasiIdentifier("education", CodeListHierarchy(edu_parent)),
    ]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def case_kanon(rows: int, limit: float) -> dict:
    from onesource.anonymize.kanon import k_anonymize

    t = time.perf_counter()
    table = people(rows)
    gen_s = time.perf_counter() - t
    rss_data = rss_mb()
    qis = quasi_identifiers()
    t = time.perf_counter()
    res = k_anonymize(table, qis, k=5, suppression_limit=limit)
    search_s = time.perf_counter() - t
    rss_peak = rss_mb()
    # baseline: one pandas groupby k-check of the chosen node
    names = [q.name for q in qis]
    df = res.table.select(names).to_pandas()
    t = time.perf_counter()
    k_seen = int(df.groupby(names, observed=True, sort=False).size().min())
    base_s = time.perf_counter() - t
    return {
        "case": "kanon",
        "rows": rows,
        "limit": limit,
        "generate_s": round(gen_s, 2),
        "seconds": round(search_s, 2),
        "stats": res.stats,
        "levels": res.levels,
        "suppressed": res.suppressed,
        "k_seen": k_seen,
        "baseline_groupby_s": round(base_s, 2),
        "rss_data_mb": round(rss_data),
        "rss_peak_mb": round(rss_peak),
    }


def case_pseudonym(rows: int, algorithm: str, workers: int) -> dict:
    from onesource.anonymize.pseudonym import pseudonymize

    rng = np.random.default_rng(3)
    ids = pa.array(np.char.mod("%018d", rng.integers(10**16, 10**17, rows)))
    key = os.urandom(32)
    t = time.perf_counter()
    out = pseudonymize(ids, key, algorithm=algorithm, workers=workers)  # type: ignore[arg-type]
    s = time.perf_counter() - t
    assert len(out) == rows
    # baseline: the plain loop from REFERENCE.md (hmac.new per value)
    import hmac

    sample = ids.slice(0, 200_000).cast(pa.binary()).to_pylist()
    t = time.perf_counter()
    [hmac.new(key, v, "sha256").hexdigest()[:32] for v in sample]
    base = len(sample) / (time.perf_counter() - t)
    return {
        "case": "pseudonym",
        "rows": rows,
        "algorithm": algorithm,
        "workers": workers,
        "seconds": round(s, 2),
        "values_per_s": round(rows / s),
        "baseline_values_per_s": round(base),
        "rss_peak_mb": round(rss_mb()),
    }


def run_child(args: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--child", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, action="append")
    p.add_argument("--child", nargs="*")
    a = p.parse_args()
    if a.child is not None:
        kind, *rest = a.child
        if kind == "kanon":
            print(json.dumps(case_kanon(int(rest[0]), float(rest[1]))))
        else:
            print(json.dumps(case_pseudonym(int(rest[0]), rest[1], int(rest[2]))))
        return
    sizes = a.rows or [1_000_000, 10_000_000]
    print("## De-identification (k-anonymity, pseudonyms)\n")
    print(f"Command: `.venv/bin/python bench/bench_kanon.py` on {os.cpu_count()} cores.\n")
    print(
        "| rows | suppression limit | search s | nodes checked / total | from rows "
        "| chosen levels (age, sex, div, occ, edu) | suppressed | peak RSS MB (data only) "
        "| pandas groupby of chosen node s | search / one groupby |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rows in sizes:
        for limit in (0.0, 0.05):
            r = run_child(["kanon", str(rows), str(limit)])
            st = r["stats"]
            lv = ", ".join(str(v) for v in r["levels"].values())
            ratio = r["seconds"] / max(r["baseline_groupby_s"], 1e-3)
            print(
                f"| {rows:,} | {limit:.0%} | {r['seconds']} | {st['nodes_checked']} / "
                f"{st['nodes_total']} | {st['checks_from_rows']} | {lv} | {r['suppressed']:,} "
                f"| {r['rss_peak_mb']} ({r['rss_data_mb']}) | {r['baseline_groupby_s']} "
                f"| {ratio:.1f}x |",
                flush=True,
            )
    print(
        "\n| pseudonyms | algorithm | workers | values/s | baseline hmac.new loop values/s | ratio |"
    )
    print("|---|---|---|---|---|---|")
    for algorithm, workers in (
        ("hmac-sha256", 1),
        ("hmac-sha256", 2),
        ("blake2b", 1),
        ("blake2b", 2),
    ):
        r = run_child(["pseudonym", "2000000", algorithm, str(workers)])
        print(
            f"| 2,000,000 distinct | {algorithm} | {workers} | {r['values_per_s']:,} "
            f"| {r['baseline_values_per_s']:,} | {r['values_per_s'] / r['baseline_values_per_s']:.1f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
