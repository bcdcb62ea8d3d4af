"""A thin HiGHS model for the cell audit: build once, re-solve with new objectives.

HiGHS is the solver scipy's ``linprog(method="highs")`` runs; calling it
through highspy lets one model be solved for many objectives (the audit
asks the min and max of every suppressed cell over the same constraints)
with a warm start, instead of paying scipy's per-call setup each time.
HiGHS does not use BLAS, so run time does not depend on BLAS threading;
it runs single-threaded here.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class LpModel:
    """``min/max c.x`` s.t. ``row_lo <= A x <= row_hi``, ``col_lo <= x <= col_hi``."""

    def __init__(
        self,
        a: Any,
        row_lo: np.ndarray,
        row_hi: np.ndarray,
        col_lo: np.ndarray,
        col_hi: np.ndarray,
        cost: np.ndarray | None = None,
        integer: np.ndarray | None = None,
        presolve: bool = True,
    ) -> None:
        import highspy
        import scipy.sparse as sp

        # the Python subclass prints a banner and wires callbacks we do not use
        self._h = highspy._core._Highs()
        self._hs = highspy
        h = self._h
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        a = sp.csr_matrix(a, dtype=np.float64)
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
        lp.col_cost_ = np.zeros(a.shape[1]) if cost is None else np.asarray(cost, np.float64)
        lp.col_lower_ = np.nan_to_num(np.asarray(col_lo, np.float64), neginf=-inf, posinf=inf)
        lp.col_upper_ = np.nan_to_num(np.asarray(col_hi, np.float64), neginf=-inf, posinf=inf)
        lp.row_lower_ = np.nan_to_num(np.asarray(row_lo, np.float64), neginf=-inf, posinf=inf)
        lp.row_upper_ = np.nan_to_num(np.asarray(row_hi, np.float64), neginf=-inf, posinf=inf)
        m = lp.a_matrix_
        m.format_ = highspy.MatrixFormat.kRowwise
        m.num_col_, m.num_row_ = a.shape[1], a.shape[0]
        m.start_ = a.indptr.astype(np.int32)
        m.index_ = a.indices.astype(np.int32)
        m.value_ = a.data
        h.passModel(lp)
        self.n = a.shape[1]
        if integer is not None and integer.any():
            self.set_integer(np.flatnonzero(integer), True)
            # feasibility questions on small models: skip the costly MIP extras
            h.setOptionValue("mip_detect_symmetry", False)
            h.setOptionValue("presolve", "off")
        elif not presolve:
            # re-solves after an objective change then start from the last basis
            h.setOptionValue("presolve", "off")

    def set_integer(self, cols: np.ndarray, integer: bool) -> None:
        hs = self._hs
        kind = hs.HighsVarType.kInteger if integer else hs.HighsVarType.kContinuous
        idx = np.asarray(cols, np.int32)
        self._h.changeColsIntegrality(len(idx), idx, np.array([kind] * len(idx)))

    def set_bounds(self, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        inf = self._hs.kHighsInf
        idx = np.asarray(cols, np.int32)
        self._h.changeColsBounds(
            len(idx),
            idx,
            np.nan_to_num(np.asarray(lo, np.float64), neginf=-inf, posinf=inf),
            np.nan_to_num(np.asarray(hi, np.float64), neginf=-inf, posinf=inf),
        )

    def solve(self, cost: np.ndarray, maximize: bool = False) -> tuple[str, float, np.ndarray]:
        """Status (``optimal``, ``unbounded``, ``infeasible``, ``other``), value, solution."""
        hs, h = self._hs, self._h
        idx = np.arange(self.n, dtype=np.int32)
        # always minimize (a sense change can drop the basis): max c.x = -min -c.x
        c = -np.asarray(cost, np.float64) if maximize else np.asarray(cost, np.float64)
        h.changeColsCost(self.n, idx, c)
        h.run()
        st = h.getModelStatus()
        if st == hs.HighsModelStatus.kOptimal:
            val = float(h.getInfo().objective_function_value)
            return "optimal", -val if maximize else val, np.asarray(h.getSolution().col_value)
        if st in (hs.HighsModelStatus.kUnbounded, hs.HighsModelStatus.kUnboundedOrInfeasible):
            return "unbounded", np.inf if maximize else -np.inf, np.zeros(self.n)
        if st == hs.HighsModelStatus.kInfeasible:
            return "infeasible", np.nan, np.zeros(self.n)
        return "other", np.nan, np.zeros(self.n)

    def feasible(
        self, cols: np.ndarray, coef: np.ndarray, lo: float, hi: float
    ) -> tuple[str, np.ndarray]:
        """A solution with ``lo <= coef . x[cols] <= hi`` (zero objective: the
        MIP stops at its first feasible point), the extra row removed after."""
        hs, h = self._hs, self._h
        inf = hs.kHighsInf
        idx = np.arange(self.n, dtype=np.int32)
        h.changeColsCost(self.n, idx, np.zeros(self.n))
        h.addRow(
            float(np.nan_to_num(lo, neginf=-inf)),
            float(np.nan_to_num(hi, posinf=inf)),
            len(cols),
            np.asarray(cols, np.int32),
            np.asarray(coef, np.float64),
        )
        row = h.getNumRow() - 1
        h.run()
        st = h.getModelStatus()
        sol = np.asarray(h.getSolution().col_value)
        h.deleteRows(1, np.array([row], np.int32))
        if st == hs.HighsModelStatus.kOptimal:
            return "optimal", sol
        if st == hs.HighsModelStatus.kInfeasible:
            return "infeasible", sol
        return "other", sol
