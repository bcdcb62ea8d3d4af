"""k-anonymity (and distinct l-diversity) by optimal lattice search.

``k_anonymize(table, qis, k=5, suppression_limit=0.05)`` finds the
generalization levels of least information loss (see
:mod:`onesource.anonymize.lattice`) such that, after removing the records
of classes with fewer than ``k`` records (or fewer than ``l`` distinct
values of a sensitive attribute), at most ``suppression_limit`` of the
records are removed.  Suppressed records are removed from the output (not
starred), counted in the result, and charged in the information loss as
fully generalized records.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from onesource.anonymize.encoding import encode_column, encode_plain
from onesource.anonymize.hierarchy import Hierarchy
from onesource.anonymize.lattice import Lattice, Sensitive
from schemas.errors import ConfigError, TerminalError


class KAnonymityConfigError(ConfigError):
    """The k-anonymity request is malformed (k, limit, bounds, columns)."""

    code = "kanon-config-invalid"


class AnonymizationInfeasibleError(TerminalError):
    """Not even full generalization meets k / l within the suppression limit."""

    code = "anonymization-infeasible"


@dataclass(frozen=True)
class QuasiIdentifier:
    """A column that takes part in k-anonymity, with its hierarchy.

    ``min_level``/``max_level`` bound the search; equal values fix the level.
    ``weight`` scales the column's share of the information loss.
    """

    name: str
    hierarchy: Hierarchy
    min_level: int = 0
    max_level: int | None = None
    weight: float = 1.0

    def bounds(self) -> tuple[int, int]:
        hi = self.hierarchy.levels - 1 if self.max_level is None else self.max_level
        return self.min_level, hi


@dataclass(frozen=True)
class KAnonymityResult:
    """The chosen node, the transformed table and what it took."""

    levels: dict[str, int]
    table: pa.Table
    suppressed: int
    input_rows: int
    k: int
    l_div: int | None
    loss: float
    classes: int
    stats: dict[str, object] = field(default_factory=dict)


def _validate(
    table: pa.Table,
    qis: Sequence[QuasiIdentifier],
    k: int,
    limit: float,
    sensitive: Sequence[str],
    l_div: int | None,
) -> None:
    if k < 1:
        raise KAnonymityConfigError(f"k must be at least 1, got {k}")
    if not 0.0 <= limit <= 1.0:
        raise KAnonymityConfigError(
            f"suppression_limit is a fraction of records, got {limit}", hint="use e.g. 0 or 0.05"
        )
    if not qis:
        raise KAnonymityConfigError("k-anonymity needs at least one quasi-identifier")
    names = [q.name for q in qis] + list(sensitive)
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise KAnonymityConfigError(
            f"columns {missing} are not in the table", hint=f"columns: {table.column_names}"
        )
    if l_div is not None and (l_div < 1 or not sensitive):
        raise KAnonymityConfigError("l-diversity needs l >= 1 and at least one sensitive column")
    for q in qis:
        lo, hi = q.bounds()
        if not 0 <= lo <= hi < q.hierarchy.levels:
            raise KAnonymityConfigError(
                f"levels {lo}..{hi} of {q.name!r} are out of range",
                hint=f"its hierarchy has levels 0..{q.hierarchy.levels - 1}",
            )


def build_lattice(
    table: pa.Table,
    qis: Sequence[QuasiIdentifier],
    *,
    k: int,
    suppression_limit: float = 0.0,
    sensitive: Sequence[str] = (),
    l_div: int | None = None,
    metric: str = "loss",
) -> Lattice:
    """Encode the columns once and return the lattice ready to search."""
    _validate(table, qis, k, suppression_limit, sensitive, l_div)
    cols = [encode_column(q.name, table.column(q.name), q.hierarchy) for q in qis]
    sens = [Sensitive(*encode_plain(table.column(s))) for s in sensitive] if l_div else []
    max_out = int(np.floor(suppression_limit * table.num_rows + 1e-9))
    return Lattice(
        cols,
        [q.bounds() for q in qis],
        k=k,
        max_outliers=max_out,
        sensitive=sens,
        l_div=l_div,
        weights=[q.weight for q in qis],
        metric=metric,
    )


def generalize_table(
    table: pa.Table, lattice: Lattice, levels: Sequence[int], keep: np.ndarray | None = None
) -> pa.Table:
    """Replace each quasi-identifier by its labels at ``levels``; keep rows where ``keep``."""
    out = table
    for col, level in zip(lattice.columns, levels, strict=True):
        codes = col.maps[level][col.row_codes]
        if keep is not None:
            codes = codes[keep]
        labels = col.labels[level].take(pa.array(codes))
        idx = out.column_names.index(col.name)
        out = out.set_column(idx, pa.field(col.name, pa.string()), labels)
    return out


def k_anonymize(
    table: pa.Table,
    qis: Sequence[QuasiIdentifier],
    *,
    k: int,
    suppression_limit: float = 0.0,
    sensitive: Sequence[str] = (),
    l_div: int | None = None,
    metric: str = "loss",
) -> KAnonymityResult:
    """Generalize ``qis`` optimally so every class has >= ``k`` records
    (and >= ``l_div`` distinct non-null values of each ``sensitive`` column
    when given), suppressing at most ``suppression_limit`` of the records.

    Raises :class:`AnonymizationInfeasibleError` when no node qualifies.
    Example::

        k_anonymize(people, [QuasiIdentifier("age", NumericBands()),
                             QuasiIdentifier("sex", Flat())], k=5, suppression_limit=0.05)
    """
    t0 = time.perf_counter()
    lattice = build_lattice(
        table,
        qis,
        k=k,
        suppression_limit=suppression_limit,
        sensitive=sensitive,
        l_div=l_div,
        metric=metric,
    )
    t_encode = time.perf_counter() - t0
    node = lattice.search()
    if node is None:
        raise AnonymizationInfeasibleError(
            f"no generalization of {[q.name for q in qis]} reaches k={k}"
            + (f", l={l_div}" if l_div else "")
            + f" within {suppression_limit:.1%} suppression on {table.num_rows} rows",
            hint="raise the suppression limit, lower k/l, or add hierarchy levels",
        )
    t_search = time.perf_counter() - t0 - t_encode
    bad = lattice.bad_rows(node)
    keep = ~bad
    out = generalize_table(table.filter(pa.array(keep)), lattice, node, keep)
    verdict = lattice.check(node)
    stats = {
        "seconds_encode": round(t_encode, 3),
        "seconds_search": round(t_search, 3),
        "seconds_total": round(time.perf_counter() - t0, 3),
        "nodes_total": lattice.stats.nodes_total,
        "nodes_checked": lattice.stats.nodes_checked,
        "checks_from_rows": lattice.stats.checks_from_rows,
        "metric": metric,
        "loss_generalization": round(lattice.loss(node), 6),
        "loss_suppression": round(lattice.total_loss(node) - lattice.loss(node), 6),
    }
    return KAnonymityResult(
        levels={q.name: lv for q, lv in zip(qis, node, strict=True)},
        table=out,
        suppressed=int(bad.sum()),
        input_rows=table.num_rows,
        k=k,
        l_div=l_div,
        loss=lattice.total_loss(node),
        classes=verdict.classes,
        stats=stats,
    )
