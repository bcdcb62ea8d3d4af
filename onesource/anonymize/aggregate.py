"""Aggregate releases: statistical tables with audited cell suppression.

:func:`aggregate` counts rows (and sums magnitudes) over every cell of the
declared dimensions (the cartesian product of their declared values, so
empty cells are listed as 0, never left out) and over every margin
(totals over any subset of the dimensions, up to the grand total).

Primary suppression:

- a count below ``threshold`` is sensitive; an empty cell too unless the
  table declares zeros public (``zeros="public"``).  Its protection: the
  attacker's interval must reach both 0 and ``threshold``, so the cell
  cannot be told apart from an empty cell nor from one at the threshold;
- a sum (or mean) cell that fails the dominance rule (:mod:`.dominance`)
  is sensitive, with the rule's protection on the sum.

Margins are cells like any other: sensitive ones are suppressed and
protected, and any margin may be chosen as a complement; they are printed
only with ``margins=True``.  Then complementary suppression and the audit
(:mod:`.cellaudit`): the attacker knows every printed cell and every
published cell of the ``linked`` tables of the same input; whatever follows
from those (an unprinted margin is the sum of printed cells) the LP derives.  The result says whether the audit proved every
sensitive cell protected (``proved``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from onesource.anonymize import cellaudit as ca
from onesource.anonymize.complement import protect
from onesource.anonymize.dominance import DominanceRule, required_protection, top_contributions
from schemas.errors import ConfigError

# the union cube of all linked tables must stay auditable
MAX_ATOMS = 2_000_000
MARGIN = "margin"


@dataclass(frozen=True)
class LinkedTable:
    """A table of the same input published by another release."""

    name: str
    by: Sequence[str]
    threshold: int
    published: pa.Table  # its published rows: ``by`` columns, ``count`` (null: suppressed)
    zeros: Literal["sensitive", "public"] = "sensitive"
    margins_published: bool = False


@dataclass(frozen=True)
class AggregateResult:
    table: pa.Table
    primary: int
    complementary: int
    # the LP audit proved every suppressed sensitive cell protected
    exact_checked: bool
    # sensitive cells the audit found under-protected; the caller must not publish then
    exposed: int = 0
    audit: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Cube:
    dims: list[str]
    domains: list[pa.Array]
    shape: tuple[int, ...]
    atom_of_row: np.ndarray
    levels: list[tuple[int, ...]] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)

    @property
    def n_atoms(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    def level_cells(self, level: tuple[int, ...]) -> int:
        return int(np.prod([self.shape[d] for d in level])) if level else 1

    def add_level(self, level: tuple[int, ...]) -> None:
        if level not in self.levels:
            self.offsets.append(
                self.offsets[-1] + self.level_cells(self.levels[-1]) if self.levels else 0
            )
            self.levels.append(level)

    def cell_of_atom(self, level: tuple[int, ...]) -> np.ndarray:
        coords = np.unravel_index(np.arange(self.n_atoms), self.shape)
        off = self.offsets[self.levels.index(level)]
        if not level:
            return np.full(self.n_atoms, off)
        sub = tuple(coords[d] for d in level)
        return off + np.ravel_multi_index(sub, tuple(self.shape[d] for d in level))

    def members(self) -> Any:
        import scipy.sparse as sp

        rows = np.concatenate([self.cell_of_atom(lv) for lv in self.levels])
        cols = np.tile(np.arange(self.n_atoms), len(self.levels))
        n = self.offsets[-1] + self.level_cells(self.levels[-1])
        return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, self.n_atoms))

    def level_slice(self, level: tuple[int, ...]) -> slice:
        off = self.offsets[self.levels.index(level)]
        return slice(off, off + self.level_cells(level))


def _domain(column: pa.ChunkedArray, declared: Sequence[Any] | None) -> pa.Array:
    import pyarrow.compute as pc

    observed = pc.unique(column.combine_chunks())
    if declared is None:
        values = observed
    else:
        decl = pa.array(list(declared), type=column.type) if len(declared) else observed[:0]
        extra = observed.filter(pc.invert(pc.is_in(observed, value_set=decl)))
        values = pa.concat_arrays([decl, extra.cast(decl.type)])
    return values.take(pc.array_sort_indices(values, null_placement="at_end"))


def _subsets(dims: Sequence[int]) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = []
    for r in range(len(dims), -1, -1):
        out.extend(itertools.combinations(sorted(dims), r))
    return out


def _codes(column: pa.ChunkedArray | pa.Array, domain: pa.Array) -> np.ndarray:
    import pyarrow.compute as pc

    idx = pc.index_in(column, value_set=domain, skip_nulls=False)
    arr = idx.to_numpy(zero_copy_only=False)
    return np.asarray(arr, dtype=np.float64)


def aggregate(
    table: pa.Table,
    by: Sequence[str],
    *,
    threshold: int,
    sums: Sequence[str] = (),
    domains: Mapping[str, Sequence[Any]] | None = None,
    zeros: Literal["sensitive", "public"] = "sensitive",
    margins: bool = False,
    dominance: DominanceRule | None = None,
    linked: Sequence[LinkedTable] = (),
    count_name: str = "count",
    flag_name: str = "suppressed",
    progress: ca.Progress | None = None,
) -> AggregateResult:
    """Count rows (and sum ``sums``) per cell of ``by``; suppress sensitive
    cells and complements; audit.  Example::

        aggregate(people, ["district", "age_band"], threshold=10, sums=["income"],
                  dominance=DominanceRule("p_percent", p=10), margins=True)
    """
    if threshold < 1:
        raise ConfigError(f"aggregate threshold must be at least 1, got {threshold}")
    if len(set(by)) != len(by):
        raise ConfigError(f"aggregate dimensions repeat: {list(by)}")
    all_dims = list(by) + [d for t in linked for d in t.by if d not in by]
    all_dims = list(dict.fromkeys(all_dims))
    missing = [c for c in [*all_dims, *sums] if c not in table.column_names]
    if missing:
        raise ConfigError(
            f"aggregate columns {missing} are not in the table",
            hint=f"columns: {table.column_names}",
        )
    domains = domains or {}
    doms = []
    for d in all_dims:
        extra = [v for t in linked if d in t.by for v in t.published.column(d).to_pylist()]
        declared = list(domains[d]) if d in domains else None
        if extra:
            declared = list(
                dict.fromkeys([*(declared or []), *[v for v in extra if v is not None]])
            )
        doms.append(_domain(table.column(d), declared))
    shape = tuple(len(x) for x in doms)
    n_atoms = int(np.prod(shape))
    if n_atoms > MAX_ATOMS:
        raise ConfigError(
            f"aggregate over {all_dims} has {n_atoms:,} cells; the audit handles up to {MAX_ATOMS:,}",
            hint="group by fewer or coarser dimensions",
        )
    codes = [_codes(table.column(d), doms[i]).astype(np.int64) for i, d in enumerate(all_dims)]
    atom_of_row = (
        np.ravel_multi_index(tuple(codes), shape) if table.num_rows else np.zeros(0, np.int64)
    )
    cube = _Cube(all_dims, doms, shape, atom_of_row)
    own_dims = [all_dims.index(d) for d in by]
    own_levels = _subsets(own_dims)
    for lv in own_levels:
        cube.add_level(lv)
    for t in linked:
        for lv in _subsets([all_dims.index(d) for d in t.by]):
            cube.add_level(lv)
    members = cube.members()
    n_cells = members.shape[0]
    own = np.zeros(n_cells, dtype=bool)
    for lv in own_levels:
        own[cube.level_slice(lv)] = True

    counts_atoms = np.bincount(atom_of_row, minlength=n_atoms).astype(np.float64)
    cell_counts = members @ counts_atoms
    count_upl = np.zeros(n_cells)
    count_lpl = np.zeros(n_cells)

    def small(vals: np.ndarray, thr: int, zero_rule: str) -> np.ndarray:
        return (vals < thr) & ((vals > 0) | (zero_rule == "sensitive"))

    own_small = own & small(cell_counts, threshold, zeros)
    count_upl[own_small] = threshold - cell_counts[own_small]
    count_lpl[own_small] = cell_counts[own_small]
    external_known = np.zeros(n_cells, dtype=bool)
    for t in linked:
        tdims = [all_dims.index(d) for d in t.by]
        tmask = np.zeros(n_cells, dtype=bool)
        for lv in _subsets(tdims):
            tmask[cube.level_slice(lv)] = True
        ts = tmask & small(cell_counts, t.threshold, t.zeros)
        count_upl[ts] = np.maximum(count_upl[ts], t.threshold - cell_counts[ts])
        count_lpl[ts] = np.maximum(count_lpl[ts], cell_counts[ts])
        external_known |= _published_cells(cube, t, tdims, n_cells)

    primary = own_small.copy()
    layers = [
        ca.Layer(
            "count",
            counts_atoms,
            count_upl,
            count_lpl,
            nonnegative=True,
            integer=True,
            external_known=external_known,
        )
    ]
    rule = dominance or DominanceRule()
    sum_cells: dict[str, np.ndarray] = {}
    for s in sums:
        vals = np.nan_to_num(
            np.asarray(table.column(s).to_numpy(zero_copy_only=False), dtype=np.float64)
        )
        atoms = np.bincount(atom_of_row, weights=vals, minlength=n_atoms)
        sum_cells[s] = members @ atoms
        upl = np.zeros(n_cells)
        mags = np.abs(vals)
        for lv in own_levels:
            cell_of_row = cube.cell_of_atom(lv)[atom_of_row] - cube.level_slice(lv).start
            n_lv = cube.level_cells(lv)
            tops = top_contributions(cell_of_row, mags, n_lv, rule.top)
            totals = np.bincount(cell_of_row, weights=mags, minlength=n_lv)
            upl[cube.level_slice(lv)] = required_protection(rule, totals, tops)
        primary |= upl > 0
        layers.append(
            ca.Layer(
                f"{s}_sum",
                atoms,
                upl,
                upl.copy(),
                nonnegative=bool((vals >= 0).all()),
                zero_atoms=counts_atoms == 0,
            )
        )
    sup = primary | (~own & ~external_known)
    # every suppressed own cell hides as many records as it counts: cost by value
    model = ca.CellModel(members, own, cell_counts + 1.0)
    result = protect(model, layers, sup, progress=progress)
    sup = result.suppressed
    out = _output(cube, own_levels, margins, cell_counts, sum_cells, sup, count_name, flag_name)
    published_rows = _published_row_mask(cube, own_levels, margins, n_cells)
    n_primary = int((primary & published_rows).sum())
    n_all = int((sup & published_rows).sum())
    audit = {
        "method": "linear programming (HiGHS); integer programming for counts",
        "sensitive_cells": int(sum((ly.sensitive() & sup).sum() for ly in layers)),
        "under_protected": result.unprotected,
        "linked_tables": [t.name for t in linked],
        "lp_solved": result.lp_solved,
        "dominance": rule.describe() if sums else None,
        "zeros": zeros,
        "margins_audited": True,
        "cells_in_table": int(own.sum()),
        "cells_suppressed_all_levels": int((sup & own).sum()),
    }
    return AggregateResult(
        table=out,
        primary=n_primary,
        complementary=n_all - n_primary,
        exact_checked=result.proved,
        exposed=result.unprotected,
        audit=audit,
    )


def _published_cells(cube: _Cube, t: LinkedTable, tdims: list[int], n_cells: int) -> np.ndarray:
    """Cells of linked table ``t`` whose count it published."""
    import pyarrow.compute as pc

    known = np.zeros(n_cells, dtype=bool)
    pub = t.published
    if "count" not in pub.column_names:
        return known
    has = pc.is_valid(pub.column("count")).to_numpy(zero_copy_only=False)
    if MARGIN in pub.column_names:
        margin = [m or "" for m in pub.column(MARGIN).to_pylist()]
    else:
        margin = [""] * pub.num_rows
    by = list(t.by)
    for mtext in set(margin):
        summed = {x for x in mtext.split(",") if x}
        lv = tuple(sorted(d for d, name in zip(tdims, by, strict=True) if name not in summed))
        rows = np.flatnonzero(np.array([m == mtext for m in margin]) & has)
        if not len(rows):
            continue
        sub = pub.take(pa.array(rows))
        coords = [_codes(sub.column(cube.dims[d]), cube.domains[d]).astype(np.int64) for d in lv]
        local = (
            np.ravel_multi_index(tuple(coords), tuple(cube.shape[d] for d in lv))
            if lv
            else np.zeros(len(rows), np.int64)
        )
        known[cube.level_slice(lv).start + local] = True
    return known


def _published_row_mask(
    cube: _Cube, own_levels: list[tuple[int, ...]], margins: bool, n_cells: int
) -> np.ndarray:
    mask = np.zeros(n_cells, dtype=bool)
    for lv in own_levels if margins else own_levels[:1]:
        mask[cube.level_slice(lv)] = True
    return mask


def _output(
    cube: _Cube,
    own_levels: list[tuple[int, ...]],
    margins: bool,
    counts: np.ndarray,
    sums: dict[str, np.ndarray],
    sup: np.ndarray,
    count_name: str,
    flag_name: str,
) -> pa.Table:
    """Interior cells in dimension order, then (with ``margins``) each margin
    level; a margin row has null in the summed-over dimensions and names them
    in the ``margin`` column."""
    own_dims = list(own_levels[0])
    parts = []
    for lv in own_levels if margins else own_levels[:1]:
        sl = cube.level_slice(lv)
        n = cube.level_cells(lv)
        coords = np.unravel_index(np.arange(n), tuple(cube.shape[d] for d in lv)) if lv else ()
        cols: dict[str, pa.Array] = {}
        for d in own_dims:
            name = cube.dims[d]
            dom = cube.domains[d]
            if d in lv:
                cols[name] = dom.take(pa.array(coords[lv.index(d)]))
            else:
                cols[name] = pa.nulls(n, dom.type)
        s = sup[sl]
        cols[count_name] = pa.array(np.where(s, 0, counts[sl]).astype(np.int64), mask=s)
        for name, vals in sums.items():
            cols[f"{name}_sum"] = pa.array(np.where(s, 0.0, vals[sl]), pa.float64(), mask=s)
        cols[flag_name] = pa.array(s)
        if margins:
            summed = ",".join(cube.dims[d] for d in own_dims if d not in lv)
            cols[MARGIN] = pa.array([summed] * n, pa.string())
        parts.append(pa.table(cols))
    return pa.concat_tables(parts)
