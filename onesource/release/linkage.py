"""k on the combination of a new release with the published releases of the same inputs.

Row order carries nothing (the engine shuffles every output), so two
releases can only be combined through values they both publish.  What is
checked, for the new release N and each other published microdata or list
notice release P that reads one of N's inputs:

- **Link columns** S: pairs of columns, one in each, taken from the same
  input field and published in the same form (their value sets overlap:
  the same technique and level, or pseudonyms under a shared key).  Shared
  unique fields, shared pseudonyms and identically generalized shared
  quasi-identifiers are all link columns; pseudonyms under different keys
  and differently generalized columns are not (their values do not meet).
- **Combination**: the attacker joins N and P on S.  For a target whose
  quasi-identifiers in N are ``qN`` and in P are ``qP``, the candidates are
  the records of N in class ``qN`` that join some record of P in class
  ``qP`` (and the same from P's side).  The combined k is the smallest
  such candidate count over every (``qN``, ``qP``) that occurs, computed
  from the two frequency tables grouped by (S, quasi-identifiers), never
  from the pairwise join.  It must reach the larger of the two releases' k.
- When every link column is a quasi-identifier of both releases the join
  cannot split a class (each class of N meets whole classes of P): no
  computation is needed.

Not checked (see docs/stewards-releases.md): linkage through values that
are *compatible* but not equal (``30-34`` in one release, ``30-39`` in the
other), attribute disclosure by intersecting sensitive values across
releases, and earlier versions of the same release.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from schemas.catalog import Catalog
from schemas.release import Release
from schemas.vocab import ReleaseKind, Technique

# refuse rather than join frequency tables bigger than this many pairs
MAX_PAIRS = 50_000_000


@dataclass(frozen=True)
class Combination:
    """The new release against one published release."""

    other: str
    link_columns: list[tuple[str, str]]  # (column in the new release, column in the other)
    quasi_identifiers: list[str]  # the union, as "<release>.<column>"
    k: int | None  # None: no link columns
    k_required: int
    pairs: int = 0

    @property
    def ok(self) -> bool:
        return self.k is None or self.k >= self.k_required

    def __str__(self) -> str:
        if self.k is None:
            return f"{self.other}: no link columns"
        if self.k < 0:
            return (
                f"{self.other}: joining on {self.link_columns} makes {self.pairs:,} class pairs, "
                f"more than the {MAX_PAIRS:,} checked; refused rather than unchecked"
            )
        links = ", ".join(a if a == b else f"{a}={b}" for a, b in self.link_columns)
        return (
            f"{self.other}: joined on [{links}], quasi-identifiers "
            f"[{', '.join(self.quasi_identifiers)}] reach k={self.k} "
            f"(required {self.k_required})"
        )


def candidates(catalog: Catalog, release: Release) -> list[Release]:
    """Other row-level releases that read one of ``release``'s inputs."""
    mine = {i.ref for i in release.inputs}
    return [
        r
        for name, r in sorted(catalog.releases.items())
        if name != release.name
        and r.kind is not ReleaseKind.aggregate
        and mine & {i.ref for i in r.inputs}
    ]


def link_columns(
    new: Release, new_table: pa.Table, other: Release, other_table: pa.Table
) -> list[tuple[str, str]]:
    """Column pairs from the same input field whose published values meet."""
    import pyarrow.compute as pc

    pairs = []
    for a, ca in new.columns.items():
        if ca.technique is Technique.drop or a not in new_table.column_names:
            continue
        for b, cb in other.columns.items():
            if cb.source != ca.source or b not in other_table.column_names:
                continue
            va = pc.unique(_text(new_table[a]))
            vb = pc.unique(_text(other_table[b]))
            if pc.any(pc.is_in(va, value_set=vb)).as_py():
                pairs.append((a, b))
    return pairs


def _text(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())


def combined_k(
    new_table: pa.Table,
    new_qis: list[str],
    other_table: pa.Table,
    other_qis: list[str],
    links: list[tuple[str, str]],
) -> tuple[int | None, int]:
    """(combined k, frequency-table pairs joined) of two tables linked on ``links``.

    None when there are no classes in common (nothing links).
    """
    import pyarrow.compute as pc

    s_names = [f"s{i}" for i in range(len(links))]
    n_q = [f"n.{q}" for q in new_qis]
    p_q = [f"p.{q}" for q in other_qis]

    def freq(table: pa.Table, cols: list[str], qis: list[str], prefix: str, count: str) -> pa.Table:
        data = {s: _text(table[c]) for s, c in zip(s_names, cols, strict=True)}
        data |= {f"{prefix}.{q}": _text(table[q]) for q in qis}
        names = list(data)
        g = pa.table(data).group_by(names, use_threads=False).aggregate([([], "count_all")])
        return g.rename_columns([*names, count])

    fn = freq(new_table, [a for a, _ in links], new_qis, "n", "cn")
    fp = freq(other_table, [b for _, b in links], other_qis, "p", "cp")
    # pairs the join would make: per link value, classes on each side multiplied
    per_n = fn.group_by(s_names, use_threads=False).aggregate([([], "count_all")])
    per_p = fp.group_by(s_names, use_threads=False).aggregate([([], "count_all")])
    sizes = per_n.join(per_p, s_names, join_type="inner", left_suffix="_n", right_suffix="_p")
    if sizes.num_rows == 0:
        return None, 0
    pairs = int(pc.sum(pc.multiply(sizes["count_all_n"], sizes["count_all_p"])).as_py())
    if pairs > MAX_PAIRS:
        return -1, pairs
    joined = fn.join(fp, s_names, join_type="inner")
    keys = n_q + p_q
    if not keys:
        return None, pairs
    g = joined.group_by(keys, use_threads=False).aggregate([("cn", "sum"), ("cp", "sum")])
    k = min(pc.min(g["cn_sum"]).as_py(), pc.min(g["cp_sum"]).as_py())
    return int(k), pairs


def check(
    catalog: Catalog,
    release: Release,
    table: pa.Table,
    read_published: Any,
) -> list[Combination]:
    """Every combination of ``table`` (release's new output) with a published release.

    ``read_published(name)`` returns (table, risk report) of a release's
    current version, or None when it has none.
    """
    out = []
    new_qis = [q for q in release.quasi_identifiers if q in table.column_names]
    for other in candidates(catalog, release):
        published = read_published(other.name)
        if published is None:
            continue
        other_table, other_report = published
        k_required = max(release.k or 0, other.k or 0, other_report.get("k_target") or 0)
        if k_required < 2:
            continue  # neither release promises k
        other_qis = [
            q for q in other_report.get("quasi_identifiers") or [] if q in other_table.column_names
        ]
        links = link_columns(release, table, other, other_table)
        union = [f"{release.name}.{q}" for q in new_qis] + [f"{other.name}.{q}" for q in other_qis]
        if not links:
            out.append(Combination(other.name, [], union, None, k_required))
            continue
        # the combination may not fall below the required k, nor below what
        # each release reaches alone (a weaker published release is not N's doing)
        alone = min(_min_class(table, new_qis), _min_class(other_table, other_qis))
        threshold = min(k_required, alone)
        if all(a in new_qis and b in other_qis for a, b in links):
            # each class of one release meets whole classes of the other
            out.append(Combination(other.name, links, union, alone, threshold))
            continue
        k, pairs = combined_k(table, new_qis, other_table, other_qis, links)
        out.append(Combination(other.name, links, union, k, threshold, pairs))
    return out


def _min_class(table: pa.Table, qis: list[str]) -> int:
    import pyarrow.compute as pc

    if not qis or table.num_rows == 0:
        return int(table.num_rows)
    g = table.group_by(qis, use_threads=False).aggregate([([], "count_all")])
    smallest: int = pc.min(g["count_all"]).as_py()
    return smallest
