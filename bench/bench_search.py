"""Benchmark: search quality (recall@5, MRR) on the query set, and its latency.

``bench/search_queries.yaml`` holds realistic queries and the datasets a person expects.
Quality is measured on the demo catalog; latency on the demo catalog and on a generated
500-dataset catalog (``gen_catalog``-style resources with releases).

    .venv/bin/python bench/bench_search.py [--catalog catalog] [--k 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
QUERIES = REPO / "bench" / "search_queries.yaml"


def load_queries(path: Path = QUERIES) -> list[dict[str, Any]]:
    import yaml

    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["queries"])


def evaluate(index: Any, cases: list[dict[str, Any]], k: int = 5) -> dict[str, Any]:
    """recall@k (share of expected items in the top k, averaged over queries), MRR (1/rank of
    the first expected item), and the queries that missed something."""
    recalls, reciprocal, misses = [], [], []
    for case in cases:
        names = [h.key.split(":", 1)[1] for h in index.search(str(case["q"]))]
        expect = set(case["expect"])
        found = expect & set(names[:k])
        recalls.append(len(found) / len(expect))
        first = next((n for n, name in enumerate(names, 1) if name in expect), None)
        reciprocal.append(1 / first if first else 0.0)
        if found != expect:
            misses.append({"q": case["q"], "expect": sorted(expect), "top": names[:k]})
    return {
        "queries": len(cases),
        f"recall@{k}": statistics.fmean(recalls),
        "mrr": statistics.fmean(reciprocal),
        "misses": misses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", default=str(REPO / "catalog"))
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()

    from onesource.catalog.loader import load_catalog
    from onesource.web.portal.search import SearchIndex

    catalog = load_catalog(args.catalog).raise_for_issues()
    t0 = time.perf_counter()
    index = SearchIndex(catalog)
    build_ms = (time.perf_counter() - t0) * 1000
    cases = load_queries()
    result = evaluate(index, cases, args.k)
    times = []
    for _ in range(20):
        for case in cases:
            t = time.perf_counter()
            index.search(str(case["q"]))
            times.append(time.perf_counter() - t)
    times.sort()
    print(f"queries: {result['queries']}  documents: {len(index.docs)}  build: {build_ms:.1f} ms")
    print(f"recall@{args.k}: {result[f'recall@{args.k}']:.3f}  MRR: {result['mrr']:.3f}")
    print(
        f"query latency: p50 {times[len(times) // 2] * 1e3:.3f} ms, "
        f"p99 {times[int(len(times) * 0.99)] * 1e3:.3f} ms"
    )
    for miss in result["misses"]:
        print(f"  missed: {miss['q']!r} expected {miss['expect']} got {miss['top']}")


if __name__ == "__main__":
    main()
