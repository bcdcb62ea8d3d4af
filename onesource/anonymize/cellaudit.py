"""Cell audit of linked statistical tables: feasible intervals and protection.

The model is the one statistical offices use (tau-argus, sdcTable).  The
*atoms* are the cells of the finest cross-classification of every table of
the same input (the cartesian product of the declared category values, zeros
included).  Every published or audited *cell* (interior cell or margin, of
this table or of another published table) is a sum of atoms, one row of a
sparse 0/1 matrix.

What an attacker knows: the value of every cell that is published, that
atoms are non-negative (counts; sums of non-negative values) and, for
counts, integers.  For a suppressed cell the attacker can therefore only
tell that its value lies in ``[lo, hi]``: the minimum and maximum of that
cell over every atom vector consistent with what is published.
:func:`intervals` computes them exactly with linear programming (HiGHS),
integer programming where integrality matters.

A *sensitive* cell needs upper and lower protection (``upl``, ``lpl``): it
is protected when ``hi >= value + upl`` and ``lo <= value - lpl``.
:func:`check` answers that for every suppressed sensitive cell (HiGHS LPs
through highspy, warm-started; an integer program only where the LP optimum
is fractional and no integral near-optimal vertex reaches the bound).
Complements are chosen in :mod:`onesource.anonymize.complement`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

Progress = Callable[[str, int, int], None]
TOL = 1e-6


@dataclass
class Layer:
    """One measure over the atoms: counts, or the sum of one column."""

    name: str
    atoms: np.ndarray  # true value of every atom
    upl: np.ndarray  # required upper protection per cell (0: not sensitive)
    lpl: np.ndarray  # required lower protection per cell
    nonnegative: bool = True
    integer: bool = False
    # cells of this layer published by other releases (fixed, known)
    external_known: np.ndarray | None = None
    # atoms the attacker knows to be zero (e.g. sums where the count is a known 0)
    zero_atoms: np.ndarray | None = None

    def sensitive(self) -> np.ndarray:
        return (self.upl > TOL) | (self.lpl > TOL)


@dataclass
class CellModel:
    members: sp.csr_matrix  # cells x atoms, 0/1
    own: np.ndarray  # cells this build may publish or suppress
    cost: np.ndarray  # cost of suppressing each cell (own cells)

    @property
    def n_cells(self) -> int:
        return int(self.members.shape[0])


@dataclass
class Audit:
    """Feasible intervals of the audited cells of one layer."""

    layer: str
    cells: np.ndarray
    value: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    upl: np.ndarray
    lpl: np.ndarray
    integer: bool

    @property
    def protected(self) -> np.ndarray:
        ok = (self.hi >= self.value + self.upl - TOL) & (self.lo <= self.value - self.lpl + TOL)
        return np.asarray(ok, dtype=bool)


@dataclass
class ProtectionResult:
    suppressed: np.ndarray
    audits: list[Audit] = field(default_factory=list)
    unprotected: int = 0
    lp_solved: int = 0

    @property
    def proved(self) -> bool:
        return self.unprotected == 0


def known_mask(model: CellModel, layer: Layer, suppressed: np.ndarray) -> np.ndarray:
    known = model.own & ~suppressed
    if layer.external_known is not None:
        known = known | layer.external_known
    return np.asarray(known, dtype=bool)


class _Reduced:
    """The attacker's system for one layer, presolved: atoms pinned by
    single-atom published cells or by published zeros are fixed, the rest
    split into independent connected components."""

    def __init__(self, model: CellModel, layer: Layer, suppressed: np.ndarray) -> None:
        from scipy.sparse.csgraph import connected_components

        m = model.members
        known = known_mask(model, layer, suppressed)
        k = m[np.flatnonzero(known)]
        vals = k @ layer.atoms
        n = m.shape[1]
        fixed = np.zeros(n, dtype=bool)
        xfix = np.zeros(n)
        nnz = np.diff(k.indptr)
        single = np.flatnonzero(nnz == 1)
        fixed[k.indices[k.indptr[single]]] = True
        xfix[k.indices[k.indptr[single]]] = vals[single]
        if layer.nonnegative:
            zero_rows = np.flatnonzero(np.abs(vals) < TOL)
            if len(zero_rows):
                zatoms = np.unique(k[zero_rows].indices)
                fixed[zatoms] = True
                xfix[zatoms] = 0.0
        if layer.zero_atoms is not None:
            fixed |= layer.zero_atoms
            xfix[layer.zero_atoms] = 0.0
        self.fixed, self.xfix = fixed, xfix
        free = np.flatnonzero(~fixed)
        self.free = free
        self.col_of = np.full(n, -1)
        self.col_of[free] = np.arange(len(free))
        a = k[:, free].tocsr()
        b = vals - k[:, fixed] @ xfix[fixed]
        keep = np.diff(a.indptr) > 0
        if not np.allclose(b[~keep], 0, atol=1e-4):
            raise ValueError("published cells are inconsistent with the data")
        self.a = a[np.flatnonzero(keep)].tocsr()
        self.b = b[keep]
        adj = (self.a.T @ self.a).tocsr() if self.a.shape[0] else sp.csr_matrix((len(free),) * 2)
        self.ncomp, self.label = connected_components(adj, directed=False)
        row_comp = (
            self.label[self.a.indices[self.a.indptr[:-1]]]
            if self.a.shape[0]
            else np.array([], dtype=int)
        )
        self.row_comp = row_comp
        self.layer = layer
        self._cache: dict[tuple[bytes, bool], tuple[Any, np.ndarray]] = {}
        self.milp_solved = 0

    def _model(self, comps: np.ndarray, integer: bool) -> tuple[Any, np.ndarray]:
        from onesource.anonymize.lpsolve import LpModel

        key = (comps.tobytes(), integer)
        if key not in self._cache:
            cols = np.flatnonzero(np.isin(self.label, comps))
            rows = np.flatnonzero(np.isin(self.row_comp, comps))
            a = self.a[rows][:, cols]
            b = self.b[rows]
            lo = np.zeros(len(cols)) if self.layer.nonnegative else np.full(len(cols), -np.inf)
            model = LpModel(
                a,
                b,
                b,
                lo,
                np.full(len(cols), np.inf),
                integer=np.ones(len(cols), bool) if integer else None,
                presolve=integer,
            )
            self._cache[key] = (model, cols)
        return self._cache[key]

    def full(self, cols: np.ndarray, xsub: np.ndarray) -> np.ndarray:
        """Atom vector from a component solution (other atoms at their true values)."""
        x = np.where(self.fixed, self.xfix, self.layer.atoms)
        x[self.free[cols]] = xsub
        return x

    def reach(
        self, member_row: sp.csr_matrix, bound: float, up: bool, integer: bool
    ) -> tuple[bool, list[np.ndarray], int]:
        """Can the cell reach ``bound`` (>= if ``up`` else <=)?  With the
        (integer) solutions found, as witnesses for other cells."""
        atoms = member_row.indices
        const = float(self.xfix[atoms[self.fixed[atoms]]].sum())
        free_atoms = atoms[~self.fixed[atoms]]
        if not len(free_atoms):
            return (const >= bound - TOL) if up else (const <= bound + TOL), [], 0
        comps = np.unique(self.label[self.col_of[free_atoms]])
        model, cols = self._model(comps, False)
        c = np.zeros(len(cols))
        c[np.searchsorted(cols, self.col_of[free_atoms])] = 1.0
        st, val, x = model.solve(c, maximize=up)
        if st == "unbounded":
            return True, [], 1  # no integer issue: unbounded rays are rational
        if st != "optimal":
            raise ValueError(f"the audit LP failed ({st}): inconsistent published cells")
        val += const
        if (up and val < bound - TOL) or (not up and val > bound + TOL):
            return False, [], 1  # even the relaxation cannot get there
        integral = np.allclose(x, np.round(x), atol=1e-7)
        if not integer or integral:
            return True, [self.full(cols, x)], 1
        # a fractional vertex: other optimal or near-optimal vertices are
        # often integral (cheap LPs) before asking the integer program
        rng = np.random.default_rng(len(cols))
        for _ in range(3):
            tweak = c + 1e-3 * rng.random(len(c)) * (1 if up else -1)
            st, _, x = model.solve(tweak, maximize=up)
            if st == "optimal" and np.allclose(x, np.round(x), atol=1e-7):
                val = float(c @ np.round(x)) + const
                if (up and val >= bound - TOL) or (not up and val <= bound + TOL):
                    return True, [self.full(cols, np.round(x))], 2
        self.milp_solved += 1
        ilp, _ = self._model(comps, True)
        nz = np.flatnonzero(c)
        st, ix = (
            ilp.feasible(nz, c[nz], bound - const, np.inf)
            if up
            else ilp.feasible(nz, c[nz], -np.inf, bound - const)
        )
        if st == "infeasible":
            return False, [], 2
        if st != "optimal":
            return False, [], 2  # unproven counts as unprotected
        ix = np.round(ix)
        val = float(c @ ix) + const
        ok = (val >= bound - TOL) if up else (val <= bound + TOL)
        return ok, [self.full(cols, np.round(ix))], 2

    def interval(self, member_row: sp.csr_matrix, integer: bool) -> tuple[float, float]:
        atoms = member_row.indices
        const = float(self.xfix[atoms[self.fixed[atoms]]].sum())
        free_atoms = atoms[~self.fixed[atoms]]
        if not len(free_atoms):
            return const, const
        comps = np.unique(self.label[self.col_of[free_atoms]])
        model, cols = self._model(comps, False)
        c = np.zeros(len(cols))
        c[np.searchsorted(cols, self.col_of[free_atoms])] = 1.0
        out = []
        for maximize in (False, True):
            st, val, x = model.solve(c, maximize=maximize)
            if st in ("infeasible", "other"):
                raise ValueError(f"the audit LP failed ({st}): inconsistent published cells")
            # an integral LP optimum is the integer optimum too; otherwise ask
            # the integer program (the LP bound may be loose for 3+ dimensions)
            if integer and st == "optimal" and not np.allclose(x, np.round(x), atol=1e-7):
                self.milp_solved += 1
                ilp, icols = self._model(comps, True)
                st, val, _ = ilp.solve(c, maximize=maximize)
                if st != "optimal":
                    raise ValueError(f"the audit ILP failed ({st})")
            out.append(val)
        lo, hi = out
        return const + lo, const + hi


def intervals(
    model: CellModel,
    layer: Layer,
    suppressed: np.ndarray,
    cells: np.ndarray | None = None,
    *,
    integer: bool | None = None,
    progress: Progress | None = None,
) -> Audit:
    """The attacker's feasible interval of each of ``cells`` (default: the
    suppressed sensitive cells of ``layer``)."""
    if cells is None:
        cells = np.flatnonzero(layer.sensitive() & suppressed)
    integer = layer.integer if integer is None else integer
    red = _Reduced(model, layer, suppressed)
    m = model.members
    lo = np.zeros(len(cells))
    hi = np.zeros(len(cells))
    for i, c in enumerate(cells):
        lo[i], hi[i] = red.interval(m[int(c)], integer)
        if progress is not None:
            progress(f"audit {layer.name}", i + 1, len(cells))
    if integer:  # an integer attacker rounds inwards
        lo, hi = np.ceil(lo - TOL), np.floor(hi + TOL)
    return Audit(
        layer.name,
        cells,
        (m[cells] @ layer.atoms) if len(cells) else np.zeros(0),
        lo,
        hi,
        layer.upl[cells],
        layer.lpl[cells],
        integer,
    )


def check(
    model: CellModel,
    layer: Layer,
    suppressed: np.ndarray,
    *,
    witnesses: Sequence[np.ndarray] = (),
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Which suppressed sensitive cells of ``layer`` are protected.

    Protection is a feasibility question: is there a published-consistent
    (integer, for counts) atom vector with the cell at ``value + upl``, and
    one with it at ``value - lpl``?  Every solution found is checked against
    all pending cells at once, so one solve usually settles many cells;
    ``witnesses`` (atom vectors consistent with what is published, e.g. the
    perturbations that chose the complements) are tried first.
    Returns ``(cells, short_up, short_lo, solves)``.
    """
    cells = np.flatnonzero(layer.sensitive() & suppressed)
    red = _Reduced(model, layer, suppressed)
    m = model.members
    value = m[cells] @ layer.atoms if len(cells) else np.zeros(0)
    need_hi = value + layer.upl[cells]
    need_lo = value - layer.lpl[cells]
    pending_up = layer.upl[cells] > TOL
    pending_lo = layer.lpl[cells] > TOL
    short_up = np.zeros(len(cells), dtype=bool)
    short_lo = np.zeros(len(cells), dtype=bool)
    solves = 0
    rows = m[cells]
    total = int(pending_up.sum() + pending_lo.sum())
    for x in witnesses:  # atom vectors already known to be consistent
        if layer.integer and not np.allclose(x, np.round(x), atol=1e-7):
            continue
        vals = rows @ x
        pending_up &= ~(vals >= need_hi - TOL)
        pending_lo &= ~(vals <= need_lo + TOL)
    for direction in ("up", "lo"):
        pending = pending_up if direction == "up" else pending_lo
        short = short_up if direction == "up" else short_lo
        for j in range(len(cells)):
            if not pending[j]:
                continue
            ok, sols, n = red.reach(
                rows[j],
                need_hi[j] if direction == "up" else need_lo[j],
                direction == "up",
                layer.integer,
            )
            solves += n
            pending[j] = False
            short[j] = not ok
            for x in sols:  # witnesses for the other pending cells
                vals = rows @ x
                hit = (vals >= need_hi - TOL) if direction == "up" else (vals <= need_lo + TOL)
                pending &= ~hit
            if progress is not None:
                progress(
                    f"audit {layer.name}", total - int(pending_up.sum() + pending_lo.sum()), total
                )
    return cells, short_up, short_lo, solves
