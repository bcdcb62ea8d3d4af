"""The query set (bench/search_queries.yaml) finds what people expect: recall@5 >= 0.9.

A quality property of search over the demo catalog, not a timing; bench/bench_search.py
reports the same numbers (and MRR) into bench/RESULTS.md.
"""

from __future__ import annotations

from pathlib import Path

from bench.bench_search import evaluate, load_queries

REPO = Path(__file__).resolve().parents[2]


def test_query_set_recall_at_5() -> None:
    from onesource.catalog.loader import load_catalog
    from onesource.web.portal.search import SearchIndex

    cases = load_queries()
    assert len(cases) >= 50
    result = evaluate(SearchIndex(load_catalog(REPO / "catalog").raise_for_issues()), cases)
    assert result["recall@5"] >= 0.9, result["misses"]
    assert result["mrr"] >= 0.8, result["misses"]
