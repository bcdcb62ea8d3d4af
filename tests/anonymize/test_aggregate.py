"""Aggregates on random tables: small cells hidden, published cells exact,
every suppressed small cell protected against the LP attack of
``test_aggregate_attacks``."""

import itertools

import numpy as np
import pyarrow as pa
import pytest
from test_aggregate_attacks import assert_protected, published

from onesource.anonymize.aggregate import aggregate

THRESHOLD = 5


def table(seed: int, dims: int, n: int = 150) -> pa.Table:
    rng = np.random.default_rng(seed)
    cols = {
        "district": rng.choice(list("ABCD"), n, p=[0.5, 0.3, 0.15, 0.05]),
        "age": rng.choice(["0-19", "20-39", "40-59"], n, p=[0.2, 0.5, 0.3]),
        "sex": rng.choice(["1", "2"], n),
    }
    cols = dict(list(cols.items())[:dims])
    cols["income"] = rng.integers(1000, 9000, n)
    return pa.table(cols)


@pytest.mark.parametrize(
    ("seed", "dims"),
    [(s, d) for d, s in itertools.product((1, 2, 3), range(2))],
    ids=[f"{d}d-seed{s}" for d, s in itertools.product((1, 2, 3), range(2))],
)
def test_small_cells_hidden_and_protected(seed, dims):
    t = table(seed, dims)
    by = t.column_names[:dims]
    res = aggregate(t, by, threshold=THRESHOLD, sums=["income"], margins=True)
    assert res.exact_checked and res.exposed == 0
    df = res.table.to_pandas()
    inner = df[df.margin == ""]
    true = t.group_by(by).aggregate([([], "count_all")]).to_pandas()
    inner = inner.merge(true, on=by, how="left").fillna({"count_all": 0})
    small = inner.count_all < THRESHOLD
    assert inner.loc[small, "suppressed"].all()
    assert inner.loc[inner.suppressed, "count"].isna().all()
    assert inner.loc[inner.suppressed, "income_sum"].isna().all()
    pub = inner[~inner.suppressed]
    assert (pub["count"] == pub["count_all"]).all()
    known, hidden = published(res.table, by)
    domains = {d: sorted(set(t[d].to_pylist())) for d in by}
    if any(0 <= _true(t, c) < THRESHOLD for c in hidden):
        assert_protected(domains, t, known, hidden, threshold=THRESHOLD)


def _true(t, cell):
    mask = np.ones(t.num_rows, dtype=bool)
    for d, v in cell.items():
        mask &= np.array(t[d].to_pylist()) == v
    return int(mask.sum())


def test_complements_are_chosen_by_cost_not_smallest_cell():
    """One small cell among big ones: one complement in its line and the
    cheapest closing rectangle, never the margins."""
    counts = {
        ("a", "x"): 2,
        ("a", "y"): 50,
        ("a", "z"): 30,
        ("b", "x"): 40,
        ("b", "y"): 60,
        ("b", "z"): 35,
        ("c", "x"): 45,
        ("c", "y"): 70,
        ("c", "z"): 80,
    }
    rows = [k for k, n in counts.items() for _ in range(n)]
    t = pa.table({"p": [r[0] for r in rows], "q": [r[1] for r in rows]})
    res = aggregate(t, ["p", "q"], threshold=THRESHOLD, margins=True)
    assert res.exact_checked
    df = res.table.to_pandas()
    assert not df[df.margin != ""].suppressed.any()  # totals stay published
    hidden = df[df.suppressed]
    assert len(hidden) == 4  # the small cell + the cheapest rectangle
    assert set(hidden[hidden.p == "a"].q) == {"x", "z"}  # 30 rather than 50


def test_nothing_small_nothing_suppressed():
    t = pa.table({"d": ["a"] * 10 + ["b"] * 10})
    res = aggregate(t, ["d"], threshold=5)
    assert res.table.column("count").to_pylist() == [10, 10]
    assert not any(res.table.column("suppressed").to_pylist())
    assert res.exact_checked
