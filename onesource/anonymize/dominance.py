"""Dominance rules for magnitude tables (sums and means).

A cell total of a magnitude (income, floor area) can disclose one
contributor even when many contribute: when one holds nearly all of it,
the total is close to their value, and the second-largest contributor can
subtract their own value.  Two rules from the statistical offices' toolbox
decide which cells are sensitive and how much protection they need:

- p% rule: sensitive when the second-largest contributor could estimate the
  largest to within p% of its value; required protection (both ways)
  ``p/100 * x1 - (X - x1 - x2)``.  A cell with one or two contributors is
  always sensitive (n x mean is one person's value, or the other person's
  subtraction gives it).
- (n, k) rule: sensitive when the n largest contributors hold more than k%
  of the total; required protection ``100/k * (x1 + ... + xn) - X``.

Contributors are the input rows; values enter as magnitudes (absolute
values), so negative values cannot hide a dominant contributor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class DominanceRule:
    rule: Literal["p_percent", "nk"] = "p_percent"
    p: float = 10.0
    n: int = 1
    k: float = 75.0

    @property
    def top(self) -> int:
        return 2 if self.rule == "p_percent" else max(self.n, 1)

    def describe(self) -> str:
        if self.rule == "p_percent":
            return f"p% rule, p={self.p:g}"
        return f"(n,k) rule, n={self.n}, k={self.k:g}"


def top_contributions(
    cell_of_row: np.ndarray, values: np.ndarray, n_cells: int, top: int
) -> np.ndarray:
    """``(n_cells, top)`` array of the largest magnitudes per cell (0-padded)."""
    mags = np.abs(np.nan_to_num(values.astype(np.float64)))
    order = np.lexsort((-mags, cell_of_row))
    cells = cell_of_row[order]
    starts = np.searchsorted(cells, cells, side="left")
    rank = np.arange(len(cells)) - starts
    out = np.zeros((n_cells, top))
    keep = rank < top
    out[cells[keep], rank[keep]] = mags[order][keep]
    return out


def required_protection(rule: DominanceRule, totals: np.ndarray, tops: np.ndarray) -> np.ndarray:
    """Protection each cell needs under ``rule`` (0 where the cell is safe).

    ``totals`` are the cells' sums of magnitudes, ``tops`` their largest
    contributions (from :func:`top_contributions`).
    """
    if rule.rule == "p_percent":
        x1, x2 = tops[:, 0], tops[:, 1] if tops.shape[1] > 1 else np.zeros(len(tops))
        need = rule.p / 100.0 * x1 - (totals - x1 - x2)
    else:
        need = 100.0 / rule.k * tops[:, : rule.n].sum(axis=1) - totals
    return np.where((need > 1e-9) & (totals > 0), need, 0.0)
