"""Aggregate releases: counts and sums per group, with cell suppression.

Cells counted below ``threshold`` are suppressed (primary): their count and
sums become null and the ``suppressed`` flag column is true.  Then
complementary suppression: for each group dimension, cells that share all
the other dimensions form a line whose total may be published elsewhere (a
total is taken as published when its own count reaches the threshold,
otherwise it would be suppressed too).  A line with exactly one suppressed
cell would give it away by subtraction, so the smallest other cell of that
line is suppressed too; this repeats to a fixed point.  A last exact check
(:func:`recoverable_cells`, linear algebra over the published line totals)
catches the rarer patterns pairs cannot cover, and suppresses more until no
suppressed cell is determined by the published cells and totals.

The flag does not say whether a cell was primary or complementary, so it
does not tell which cells are small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from schemas.errors import ConfigError

# the exact check is O(cells^3) in the worst case: only run it on small tables
EXACT_CHECK_MAX_SUPPRESSED = 3000


@dataclass(frozen=True)
class AggregateResult:
    table: pa.Table
    primary: int
    complementary: int
    exact_checked: bool
    # suppressed cells still recoverable from published line totals (3+
    # dimensions can need it); the caller must not publish then
    exposed: int = 0


def _codes(table: pa.Table, by: Sequence[str]) -> list[np.ndarray]:
    import pyarrow.compute as pc

    out = []
    for name in by:
        enc = pc.dictionary_encode(table.column(name).combine_chunks(), null_encoding="encode")
        out.append(enc.indices.to_numpy(zero_copy_only=False).astype(np.int64))
    return out


def _lines(codes: list[np.ndarray], dim: int) -> np.ndarray:
    """Line id of each cell along ``dim`` (cells sharing every other dimension)."""
    others = [c for i, c in enumerate(codes) if i != dim]
    if not others:
        return np.zeros(len(codes[0]) if codes else 0, dtype=np.int64)
    stacked = np.stack(others, axis=1)
    return np.unique(stacked, axis=0, return_inverse=True)[1].ravel()


def _published_lines(lines: np.ndarray, counts: np.ndarray, threshold: int) -> np.ndarray:
    totals = np.bincount(lines, weights=counts)
    return totals >= threshold


def complementary_suppression(
    codes: list[np.ndarray], counts: np.ndarray, suppressed: np.ndarray, threshold: int
) -> np.ndarray:
    """Suppress further cells until no published line holds exactly one
    suppressed cell (see module docstring).  Returns the new mask."""
    sup = suppressed.copy()
    lines_per_dim = [_lines(codes, d) for d in range(len(codes))]
    changed = True
    while changed:
        changed = False
        for lines in lines_per_dim:
            published = _published_lines(lines, counts, threshold)
            n_sup = np.bincount(lines, weights=sup, minlength=len(published))
            needy = (n_sup == 1) & published
            cand = needy[lines] & ~sup
            if not cand.any():
                continue
            idx = np.flatnonzero(cand)
            # smallest cell per needy line: sort by (line, count, position)
            order = idx[np.lexsort((idx, counts[idx], lines[idx]))]
            first = np.ones(len(order), dtype=bool)
            first[1:] = lines[order][1:] != lines[order][:-1]
            sup[order[first]] = True
            changed = True
    return sup


def recoverable_cells(
    codes: list[np.ndarray], counts: np.ndarray, suppressed: np.ndarray, threshold: int
) -> np.ndarray:
    """Suppressed cells whose value follows from published cells and line totals.

    Exact for the linear system (ignores non-negativity): a suppressed cell
    is determined when its unit vector lies in the row space of the
    published-line constraints restricted to suppressed cells.
    """
    sup_idx = np.flatnonzero(suppressed)
    out = np.zeros(len(counts), dtype=bool)
    if not len(sup_idx):
        return out
    rows = []
    for d in range(len(codes)):
        lines = _lines(codes, d)
        published = _published_lines(lines, counts, threshold)
        for line in np.unique(lines[sup_idx]):
            if published[line]:
                rows.append((lines[sup_idx] == line).astype(float))
    if not rows:
        return out
    a = np.array(rows)
    rank = np.linalg.matrix_rank(a)
    for j, cell in enumerate(sup_idx):
        e = np.zeros((1, len(sup_idx)))
        e[0, j] = 1.0
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            out[cell] = True
    return out


def _exact_repair(
    codes: list[np.ndarray], counts: np.ndarray, sup: np.ndarray, threshold: int
) -> np.ndarray:
    """Suppress more until no suppressed cell is recoverable, choosing each
    time the extra cell (and its pairs) that hides the fewest records."""
    lines = [_lines(codes, d) for d in range(len(codes))]
    for _ in range(len(counts)):
        exposed = recoverable_cells(codes, counts, sup, threshold)
        if not exposed.any():
            return sup
        cell = int(np.flatnonzero(exposed)[0])
        mates = np.flatnonzero(np.any([ln == ln[cell] for ln in lines], axis=0) & ~sup)
        if not len(mates):
            mates = np.flatnonzero(~sup)
        if not len(mates):
            return sup
        best, best_cost = None, None
        for m in mates:
            trial = sup.copy()
            trial[m] = True
            trial = complementary_suppression(codes, counts, trial, threshold)
            still = recoverable_cells(codes, counts, trial, threshold)
            cost = (bool(still[cell]), int(still.sum()), int(counts[trial & ~sup].sum()))
            if best_cost is None or cost < best_cost:
                best, best_cost = trial, cost
        assert best is not None
        sup = best
    return sup


def aggregate(
    table: pa.Table,
    by: Sequence[str],
    *,
    threshold: int,
    sums: Sequence[str] = (),
    count_name: str = "count",
    flag_name: str = "suppressed",
) -> AggregateResult:
    """Group ``table`` by ``by``; count rows and sum ``sums``; suppress small
    cells and their complements.  Example::

        aggregate(people, ["district", "age_band"], threshold=10, sums=["income"])
    """
    import pyarrow.compute as pc

    if threshold < 1:
        raise ConfigError(f"aggregate threshold must be at least 1, got {threshold}")
    missing = [c for c in [*by, *sums] if c not in table.column_names]
    if missing:
        raise ConfigError(
            f"aggregate columns {missing} are not in the table",
            hint=f"columns: {table.column_names}",
        )
    grouped = table.group_by(list(by), use_threads=False).aggregate(
        [([], "count_all"), *[(s, "sum") for s in sums]]
    )
    grouped = grouped.sort_by([(b, "ascending") for b in by])
    counts = grouped.column("count_all").to_numpy().astype(np.int64)
    codes = _codes(grouped, by) if len(grouped) else []
    primary = counts < threshold
    sup = complementary_suppression(codes, counts, primary, threshold) if len(grouped) else primary
    exact = int(sup.sum()) <= EXACT_CHECK_MAX_SUPPRESSED
    if exact and len(grouped):
        sup = _exact_repair(codes, counts, sup, threshold)
    exposed = 0
    if exact and len(grouped):
        exposed = int(recoverable_cells(codes, counts, sup, threshold).sum())
    mask = pa.array(sup)
    cols: dict[str, pa.Array] = {b: grouped.column(b) for b in by}
    null_count = pa.array(np.where(sup, 0, counts), pa.int64(), mask=sup)
    cols[count_name] = null_count
    for s in sums:
        col = grouped.column(f"{s}_sum").combine_chunks()
        cols[f"{s}_sum"] = pc.if_else(mask, pa.scalar(None, col.type), col)
    cols[flag_name] = mask
    return AggregateResult(
        table=pa.table(cols),
        primary=int(primary.sum()),
        complementary=int(sup.sum() - primary.sum()),
        exact_checked=exact,
        exposed=exposed,
    )
