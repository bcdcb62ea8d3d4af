"""Complementary suppression by cost: the attacker's-perturbation LP.

For an under-protected sensitive cell, :func:`protect` solves one LP (the
Fischetti-Salazar model): a change ``y`` of the atoms that keeps every
published cell unchanged, keeps atoms non-negative, moves the sensitive
cell by its required protection, and costs least, where changing an own
published cell costs its suppression cost per unit.  The own cells the
cheapest ``y`` changes are suppressed; ``x + y`` then proves the interval is
wide enough, and further suppression only widens it.  Rounds repeat until
:func:`onesource.anonymize.cellaudit.check` (integer for counts) finds every
sensitive cell protected.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from onesource.anonymize.cellaudit import (
    TOL,
    Audit,
    CellModel,
    Layer,
    Progress,
    ProtectionResult,
    check,
)


class _Perturber:
    """The attacker's-perturbation LP of one layer, built once.

    Variables: ``y`` (change of each atom) and ``zp, zm >= 0`` per cell with
    ``members @ y = zp - zm``.  Cost: ``w_k (zp_k + zm_k)`` for own published
    cells, 0 for suppressed ones; cells published elsewhere are held at 0.
    Protecting a target only changes the bounds of its ``z`` and the costs
    of cells suppressed meanwhile, so HiGHS re-solves from a warm start.
    """

    def __init__(self, model: CellModel, layer: Layer, suppressed: np.ndarray) -> None:
        from onesource.anonymize.lpsolve import LpModel

        m = model.members
        nc, na = m.shape
        self.nc, self.na = nc, na
        fixed_zero = np.zeros(na, dtype=bool)
        if layer.zero_atoms is not None:
            fixed_zero |= layer.zero_atoms
        ext = layer.external_known if layer.external_known is not None else np.zeros(nc, bool)
        ext_only = ext & ~model.own
        if layer.nonnegative and ext.any():
            vals = m @ layer.atoms
            zero = np.flatnonzero(ext & (np.abs(vals) < TOL))
            if len(zero):
                fixed_zero[np.unique(m[zero].indices)] = True
        eye = sp.identity(nc, format="csr")
        a = sp.hstack([m, -eye, eye]).tocsr()
        y_lo = -layer.atoms if layer.nonnegative else np.full(na, -np.inf)
        y_lo = np.where(fixed_zero, 0.0, y_lo)
        y_hi = np.where(fixed_zero, 0.0, np.inf)
        z_hi = np.where(ext, 0.0, np.inf)  # published elsewhere: cannot move
        self.z_hi = np.concatenate([z_hi, z_hi])
        self.lp = LpModel(
            a,
            np.zeros(nc),
            np.zeros(nc),
            np.concatenate([y_lo, np.zeros(2 * nc)]),
            np.concatenate([y_hi, self.z_hi]),
            presolve=False,
        )
        self.model, self.ext_only = model, ext_only
        self.cost = np.zeros(na + 2 * nc)
        self.update_costs(suppressed)

    def update_costs(self, suppressed: np.ndarray) -> None:
        w = np.where(self.model.own & ~suppressed, self.model.cost, 0.0)
        self.cost[self.na :] = np.concatenate([w, w])

    def solve(self, target: int, amount: float, integer: bool) -> np.ndarray | None:
        """Own published cells whose change lets ``target`` move by ``amount``."""
        na, nc = self.na, self.nc
        zp, zm = na + target, na + nc + target
        lo_p, lo_m = (amount, 0.0) if amount > 0 else (0.0, -amount)
        idx = np.array([zp, zm], dtype=np.int32)
        self.lp.set_bounds(idx, np.array([lo_p, lo_m]), np.array([lo_p, lo_m]))
        if integer:
            self.lp.set_integer(np.arange(na), True)
        status, _, sol = self.lp.solve(self.cost)
        if integer:
            self.lp.set_integer(np.arange(na), False)
        self.lp.set_bounds(idx, np.zeros(2), self.z_hi[[target, nc + target]])
        if status != "optimal":
            return None
        moved = (sol[na : na + nc] + sol[na + nc :]) > 1e-7
        self.last_y = sol[:na]
        return np.flatnonzero(moved & self.model.own)


def _mark_witnessed(
    model: CellModel,
    layer: Layer,
    todo: list[tuple[Layer, int, float]],
    done: np.ndarray,
    j: int,
    y: np.ndarray,
) -> None:
    """Mark the later ``todo`` items that the perturbation ``y`` already moves far enough."""
    rest = [i for i in range(j + 1, len(todo)) if not done[i] and todo[i][0] is layer]
    if not rest:
        return
    cells = np.array([todo[i][1] for i in rest])
    amounts = np.array([todo[i][2] for i in rest])
    moved = model.members[cells] @ y
    ok = np.where(amounts > 0, moved >= amounts - TOL, moved <= amounts + TOL)
    done[np.array(rest)[ok]] = True


def protect(
    model: CellModel,
    layers: list[Layer],
    suppressed: np.ndarray,
    *,
    rounds: int = 6,
    progress: Progress | None = None,
) -> ProtectionResult:
    """Add complementary suppressions (own cells only) until every suppressed
    sensitive cell of every layer is protected.  The audits returned are the
    last interval check (integer for counts), independent of how the
    suppressions were chosen."""
    sup = suppressed.copy()
    solved = 0
    perturbers: dict[str, _Perturber] = {}
    witnesses: dict[str, list[np.ndarray]] = {}
    audits: list[Audit] = []
    unprotected = 0
    for rnd in range(rounds + 1):
        todo: list[tuple[Layer, int, float]] = []
        unprotected = 0
        for layer in layers:
            cells, short_up, short_lo, n = check(
                model, layer, sup, witnesses=witnesses.get(layer.name, []), progress=progress
            )
            solved += n
            unprotected += int((short_up | short_lo).sum())
            for i in np.flatnonzero(short_up | short_lo):
                c = int(cells[i])
                if short_up[i]:
                    todo.append((layer, c, float(layer.upl[c])))
                if short_lo[i]:
                    todo.append((layer, c, -float(layer.lpl[c])))
        if not todo or rnd == rounds:
            break
        # largest requirements first: their patterns often protect the smaller ones
        todo.sort(key=lambda t: -abs(t[2]))
        done = np.zeros(len(todo), dtype=bool)
        for j, (layer, c, amount) in enumerate(todo):
            if done[j]:
                continue
            pert = perturbers.get(layer.name)
            if pert is None:
                pert = perturbers[layer.name] = _Perturber(model, layer, sup)
            add = pert.solve(c, amount, integer=layer.integer and rnd > 0)
            solved += 1
            if add is not None and len(add):
                sup[add] = True
                for p in perturbers.values():
                    p.update_costs(sup)
            if add is not None:
                # x + y stays consistent with everything still published (more
                # suppression only removes constraints): a witness for the rest;
                # the next round's check settles integrality
                _mark_witnessed(model, layer, todo, done, j, pert.last_y)
                witnesses.setdefault(layer.name, []).append(layer.atoms + pert.last_y)
            if progress is not None:
                progress("protect", j + 1, len(todo))
    return ProtectionResult(sup, audits, unprotected, solved)
