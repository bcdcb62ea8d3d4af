import itertools

import numpy as np
import pyarrow as pa
import pytest

from onesource.anonymize.aggregate import aggregate

THRESHOLD = 10


def table(seed: int, dims: int, n: int = 3000) -> pa.Table:
    rng = np.random.default_rng(seed)
    cols = {
        "district": rng.choice(list("ABCDEFGH"), n, p=[0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02]),
        "age": rng.choice(["0-19", "20-39", "40-59", "60+"], n, p=[0.1, 0.4, 0.4, 0.1]),
        "sex": rng.choice(["1", "2"], n),
    }
    cols = dict(list(cols.items())[:dims])
    cols["income"] = rng.integers(1000, 9000, n)
    return pa.table(cols)


def lines_with_totals(df, by):
    """(dimension, line key, member index list, total count) for every line."""
    for d in by:
        others = [b for b in by if b != d]
        groups = df.groupby(others).groups if others else {(): df.index}
        for key, idx in groups.items():
            yield d, key, list(idx), int(df.loc[idx, "true_count"].sum())


def recoverable_by_linear_algebra(df, by) -> set[int]:
    """Independent check: cells fixed by the published line totals (nullspace test)."""
    sup = [i for i in df.index if df.loc[i, "suppressed"]]
    if not sup:
        return set()
    rows = []
    for _, _, idx, total in lines_with_totals(df, by):
        if total >= THRESHOLD:
            rows.append([1.0 if i in idx else 0.0 for i in sup])
    a = np.array(rows) if rows else np.zeros((1, len(sup)))
    _, s, vt = np.linalg.svd(a)
    rank = int((s > 1e-9).sum())
    null = vt[rank:]
    return {sup[j] for j in range(len(sup)) if null.shape[0] == 0 or np.allclose(null[:, j], 0)}


@pytest.mark.parametrize(
    ("seed", "dims"),
    [(s, d) for d, s in itertools.product((1, 2, 3), range(4))],
    ids=[f"{d}d-seed{s}" for d, s in itertools.product((1, 2, 3), range(4))],
)
def test_no_suppressed_cell_is_recoverable(seed, dims):
    t = table(seed, dims)
    by = t.column_names[:dims]
    res = aggregate(t, by, threshold=THRESHOLD, sums=["income"])
    df = res.table.to_pandas()
    true = t.group_by(by).aggregate([([], "count_all")]).to_pandas()
    df = df.merge(true, on=by).rename(columns={"count_all": "true_count"})
    # primary: every small cell is hidden, counts and sums alike
    assert df.loc[df.true_count < THRESHOLD, "suppressed"].all()
    assert df.loc[df.suppressed, "count"].isna().all()
    assert df.loc[df.suppressed, "income_sum"].isna().all()
    assert (df.loc[~df.suppressed, "count"] == df.loc[~df.suppressed, "true_count"]).all()
    # subtraction: no published line holds exactly one suppressed cell
    for _, _, idx, total in lines_with_totals(df, by):
        if total >= THRESHOLD:
            assert df.loc[idx, "suppressed"].sum() != 1
    exposed = recoverable_by_linear_algebra(df, by)
    assert res.exposed == len(exposed)
    if dims < 3:  # pairs plus the exact repair always suffice in 1-D and 2-D
        assert exposed == set()
    assert res.primary == int((df.true_count < THRESHOLD).sum())
    assert res.primary + res.complementary == int(df.suppressed.sum())


def test_one_dimension_pairs_the_smallest_other_cell():
    t = pa.table({"d": ["a"] * 3 + ["b"] * 20 + ["c"] * 15 + ["e"] * 40})
    res = aggregate(t, ["d"], threshold=5)
    assert res.table.column("suppressed").to_pylist() == [True, False, True, False]
    assert (res.primary, res.complementary) == (1, 1)


def test_nothing_small_nothing_suppressed():
    t = pa.table({"d": ["a"] * 10 + ["b"] * 10})
    res = aggregate(t, ["d"], threshold=5)
    assert res.table.column("count").to_pylist() == [10, 10]
    assert not any(res.table.column("suppressed").to_pylist())
