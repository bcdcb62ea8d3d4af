"""Attacks on published statistical tables, checked by an independent LP.

The attacker knows every number a table (and any linked table of the same
input) publishes, that counts are non-negative integers, and nothing else.
``attack_intervals`` is written here with ``scipy.optimize.linprog``
(independently of onesource's own audit): the min and max of a cell over
every integer table consistent with what was published.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest
from scipy.optimize import linprog

from onesource.anonymize.aggregate import LinkedTable, aggregate
from onesource.anonymize.dominance import DominanceRule

T = 5


def rows_from(counts: dict[tuple[str, ...], int], names: list[str]) -> pa.Table:
    rows = [k for k, n in counts.items() for _ in range(n)]
    return pa.table({name: [r[i] for r in rows] for i, name in enumerate(names)})


def cube(shape_values: dict[str, list[str]], array: list) -> dict[tuple[str, ...], int]:
    arr = np.array(array)
    dims = list(shape_values)
    return {
        tuple(shape_values[d][i] for d, i in zip(dims, ix, strict=True)): int(arr[ix])
        for ix in itertools.product(*[range(len(shape_values[d])) for d in dims])
    }


def attack_intervals(domains, known, targets, weights=None):
    """[(lo, hi)] of each target cell ({dim: value}; absent dims summed over)
    given ``known`` [({dim: value}, number)], atoms >= 0 and integer."""
    dims = list(domains)
    atoms = list(itertools.product(*[domains[d] for d in dims]))

    def row(cell):
        return np.array(
            [all(a[dims.index(d)] == v for d, v in cell.items()) for a in atoms], dtype=float
        )

    kw = {}
    if known:
        kw = {"A_eq": np.array([row(c) for c, _ in known]), "b_eq": [v for _, v in known]}
    integrality = np.ones(len(atoms)) if weights is None else None
    out = []
    for t in targets:
        c = row(t)
        lo = linprog(c, bounds=(0, None), method="highs", integrality=integrality, **kw)
        hi = linprog(-c, bounds=(0, None), method="highs", integrality=integrality, **kw)
        assert lo.status == 0, lo.message
        out.append((lo.fun, -hi.fun if hi.status == 0 else np.inf))
    return out


def published(res_table: pa.Table, by: list[str]) -> tuple[list, list]:
    """(known cells, suppressed cells) as {dim: value} dicts from a published table."""
    known, hidden = [], []
    for r in res_table.to_pylist():
        cell = {d: r[d] for d in by if r[d] is not None or not r.get("margin")}
        if r.get("margin"):
            cell = {d: r[d] for d in by if d not in r["margin"].split(",")}
        (hidden if r["suppressed"] else known).append((cell, r["count"]))
    return known, [c for c, _ in hidden]


def true_count(rows: pa.Table, cell: dict) -> int:
    mask = np.ones(rows.num_rows, dtype=bool)
    for d, v in cell.items():
        mask &= np.array(rows[d].to_pylist()) == v
    return int(mask.sum())


def assert_protected(domains, rows, known, hidden, threshold=T, zeros_sensitive=True):
    targets = [
        c
        for c in hidden
        if 0 < true_count(rows, c) < threshold or (zeros_sensitive and true_count(rows, c) == 0)
    ]
    assert targets, "the attack needs sensitive cells"
    for cell, (lo, hi) in zip(targets, attack_intervals(domains, known, targets), strict=True):
        # cannot be told from an empty cell, nor from one at the threshold
        assert lo <= 0 + 1e-6 and hi >= threshold - 1e-6, (cell, true_count(rows, cell), lo, hi)


# A 2-way table whose old publication (non-empty cells only, pairs of
# suppressions, linear-algebra check) gave back the single person in (r1, c1)
# exactly to anyone holding the one-way margins: column c1 counts 1, its
# other cells were absent (so 0).  Found by search; see the report of issue 12.
TWO_WAY = {"r": ["r0", "r1", "r2"], "c": ["c0", "c1", "c2", "c3"]}
TWO_WAY_COUNTS = [[20, 0, 6, 8], [1, 1, 1, 0], [12, 0, 1, 0]]


def test_two_way_table_with_margins_hides_every_small_cell():
    rows = rows_from(cube(TWO_WAY, TWO_WAY_COUNTS), ["r", "c"])
    res = aggregate(rows, ["r", "c"], threshold=T, margins=True)
    assert res.exact_checked and res.exposed == 0
    known, hidden = published(res.table, ["r", "c"])
    # every cell of the declared dimensions is listed, zeros included
    assert res.table.filter(pa.compute.equal(res.table["margin"], "")).num_rows == 12
    assert_protected(TWO_WAY, rows, known, hidden)


def test_the_old_publication_gave_the_person_away():
    """The attack itself, on what the old code published for this table."""
    rows = rows_from(cube(TWO_WAY, TWO_WAY_COUNTS), ["r", "c"])
    old_published = [  # old output: non-empty cells, pairs suppressed
        ({"r": "r0", "c": "c0"}, 20),
        ({"r": "r0", "c": "c2"}, 6),
        ({"r": "r0", "c": "c3"}, 8),
        ({"r": "r2", "c": "c0"}, 12),
    ]
    zeros = [({"r": r, "c": c}, 0) for (r, c), n in cube(TWO_WAY, TWO_WAY_COUNTS).items() if not n]
    margins = [({"r": r}, true_count(rows, {"r": r})) for r in TWO_WAY["r"]] + [
        ({"c": c}, true_count(rows, {"c": c})) for c in TWO_WAY["c"]
    ]
    [(lo, hi)] = attack_intervals(
        TWO_WAY, old_published + zeros + margins, [{"r": "r1", "c": "c1"}]
    )
    assert lo == hi == 1


LINKED = {"d": ["d0", "d1", "d2"], "s": ["m", "f"], "a": ["a0", "a1", "a2"]}
LINKED_COUNTS = [[[0, 2, 0], [0, 0, 2]], [[0, 0, 8], [0, 0, 6]], [[0, 3, 6], [2, 1, 1]]]
# audited alone, each of these two tables is protected; together they bound
# (d0, f) = 2 to [0, 4] (it must reach the threshold 5).  Found by search.
LINKED_COUNTS_ALONE = [[[0, 2, 0], [0, 1, 1]], [[14, 2, 0], [14, 4, 0]], [[0, 0, 14], [4, 6, 14]]]


@pytest.mark.parametrize("counts", [LINKED_COUNTS, LINKED_COUNTS_ALONE], ids=["old", "alone"])
def test_linked_tables_sharing_a_margin(counts):
    """district x sex, then district x age of the same input.  "old": each
    alone passed the old check, together they gave (d2, a0) = 2 exactly.
    "alone": each passes today's audit alone, not together.  The second
    build audits against the first's published cells."""
    rows = rows_from(cube(LINKED, counts), ["d", "s", "a"])
    first = aggregate(rows, ["d", "s"], threshold=T, margins=True)
    assert first.exact_checked
    second = aggregate(
        rows,
        ["d", "a"],
        threshold=T,
        margins=True,
        linked=[
            LinkedTable(
                "first",
                ["d", "s"],
                T,
                first.table.rename_columns([c for c in first.table.column_names]),
                margins_published=True,
            )
        ],
    )
    assert second.exact_checked and second.exposed == 0
    k1, h1 = published(first.table, ["d", "s"])
    k2, h2 = published(second.table, ["d", "a"])
    assert_protected(LINKED, rows, k1 + k2, h1 + h2)


def test_linked_tables_audited_alone_leak():
    """The same two tables, the second audited without the first: the
    combination pins a small cell (this is what the link prevents)."""
    rows = rows_from(cube(LINKED, LINKED_COUNTS_ALONE), ["d", "s", "a"])
    first = aggregate(rows, ["d", "s"], threshold=T, margins=True)
    alone = aggregate(rows, ["d", "a"], threshold=T, margins=True)
    k1, h1 = published(first.table, ["d", "s"])
    k2, h2 = published(alone.table, ["d", "a"])
    with pytest.raises(AssertionError):
        assert_protected(LINKED, rows, k1 + k2, h1 + h2)


def test_linked_table_the_build_cannot_fix_is_not_proved():
    """A published linked margin of 3 pins the cell below the threshold: the
    audit must say so (exact_check false), whatever this table suppresses."""
    rows = rows_from({("d0", "m"): 3, ("d1", "m"): 20, ("d1", "f"): 30}, ["d", "s"])
    margin = pa.table({"d": ["d0", "d1"], "count": pa.array([3, 50], pa.int64())})
    res = aggregate(rows, ["d", "s"], threshold=T, linked=[LinkedTable("totals", ["d"], 1, margin)])
    assert not res.exact_checked and res.exposed > 0


def test_zeros_are_listed_and_follow_the_small_cell_rule():
    rows = rows_from({("a", "x"): 30, ("a", "y"): 40, ("b", "x"): 25, ("b", "y"): 0}, ["p", "q"])
    res = aggregate(rows, ["p", "q"], threshold=T)
    out = {(r["p"], r["q"]): r for r in res.table.to_pylist()}
    assert set(out) == {("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")}
    assert out[("b", "y")]["suppressed"] and out[("b", "y")]["count"] is None
    public = aggregate(rows, ["p", "q"], threshold=T, zeros="public")
    out = {(r["p"], r["q"]): r for r in public.table.to_pylist()}
    assert out[("b", "y")]["count"] == 0 and not out[("b", "y")]["suppressed"]


def test_declared_values_without_rows_are_listed():
    rows = rows_from({("a",): 30, ("b",): 40}, ["p"])
    res = aggregate(rows, ["p"], threshold=T, domains={"p": ["a", "b", "c"]})
    assert res.table["p"].to_pylist() == ["a", "b", "c"]
    assert res.table["suppressed"].to_pylist()[2] is True


def sum_intervals(rows, by, res, column):
    """LP (continuous) intervals of suppressed sums, given published sums."""
    domains = {d: sorted(set(rows[d].to_pylist())) for d in by}
    atoms = list(itertools.product(*[domains[d] for d in by]))
    known, hidden = [], []
    for r in res.table.to_pylist():
        cell = {d: r[d] for d in by}
        (hidden if r["suppressed"] else known).append((cell, r[f"{column}_sum"]))
    return domains, atoms, known, hidden


@pytest.mark.parametrize(
    "rule",
    [DominanceRule("p_percent", p=10), DominanceRule("nk", n=1, k=75)],
    ids=["p-percent", "nk"],
)
def test_dominant_contributor_is_suppressed_and_protected(rule):
    """A cell of 12 firms where one holds ~90% of the floor area: its total
    (or mean x count) is nearly that firm's value."""
    rng = np.random.default_rng(0)
    recs = []
    for d in ("d0", "d1", "d2"):
        for u in ("home", "shop"):
            for _ in range(12):
                recs.append((d, u, float(rng.integers(50, 120))))
    recs.append(("d1", "shop", 20000.0))  # the dominant contributor
    rows = pa.table(
        {"d": [r[0] for r in recs], "u": [r[1] for r in recs], "area": [r[2] for r in recs]}
    )
    res = aggregate(rows, ["d", "u"], threshold=T, sums=["area"], dominance=rule, margins=True)
    assert res.exact_checked
    out = {(r["d"], r["u"]): r for r in res.table.to_pylist() if not r["margin"]}
    assert out[("d1", "shop")]["suppressed"] and out[("d1", "shop")]["area_sum"] is None
    # independent check on the sums: the dominant cell's total can move by
    # the protection the rule asks for, both ways
    x = np.array([r[2] for r in recs if (r[0], r[1]) == ("d1", "shop")])
    x1, x2 = sorted(x)[-1], sorted(x)[-2]
    need = (
        (rule.p / 100 * x1 - (x.sum() - x1 - x2))
        if rule.rule == "p_percent"
        else (100 / rule.k * x1 - x.sum())
    )
    domains = {"d": ["d0", "d1", "d2"], "u": ["home", "shop"]}
    known = []
    for r in res.table.to_pylist():
        if r["suppressed"]:
            continue
        cell = {"d": r["d"], "u": r["u"]}
        if r["margin"]:
            cell = {k: v for k, v in cell.items() if k not in r["margin"].split(",")}
        known.append((cell, r["area_sum"]))
    [(lo, hi)] = attack_intervals(domains, known, [{"d": "d1", "u": "shop"}], weights="sum")
    assert hi - x.sum() >= need - 1e-6 and x.sum() - lo >= need - 1e-6


def test_single_contributor_mean_is_suppressed_even_when_counts_are_allowed():
    rows = pa.table({"d": ["a", "b", "b", "b"], "v": [1234.0, 10.0, 11.0, 12.0]})
    res = aggregate(rows, ["d"], threshold=1, sums=["v"])
    out = {r["d"]: r for r in res.table.to_pylist()}
    assert out["a"]["suppressed"] and out["a"]["v_sum"] is None


@pytest.mark.parametrize("seed", range(3))
def test_random_three_way_tables_are_protected(seed):
    rng = np.random.default_rng(seed)
    dom = {"x": ["x0", "x1", "x2"], "y": ["y0", "y1"], "z": ["z0", "z1", "z2"]}
    counts = rng.choice([0, 1, 2, 3, 6, 9, 14], size=(3, 2, 3))
    rows = rows_from(cube(dom, counts.tolist()), ["x", "y", "z"])
    res = aggregate(rows, ["x", "y", "z"], threshold=T, margins=True)
    assert res.exact_checked
    known, hidden = published(res.table, ["x", "y", "z"])
    assert_protected(dom, rows, known, hidden)
