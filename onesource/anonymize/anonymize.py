"""Apply a whole de-identification spec to a table.

The spec is this module's own frozen dataclasses, so the engine stays pure;
the release pipeline builds them from the catalog with an adapter.

Fail closed: every column of the table needs a rule; a direct identifier
may only be dropped, pseudonymized, or masked (list notices only); a rule
for a column that is not there is an error too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from onesource.anonymize.hierarchy import Flat, Hierarchy, level_label, top_bottom_code
from onesource.anonymize.kanon import QuasiIdentifier, k_anonymize
from onesource.anonymize.mask import MaskKind, mask
from onesource.anonymize.pseudonym import DEFAULT_ALGORITHM, Algorithm, pseudonymize
from onesource.anonymize.risk import risk_report
from schemas.errors import ConfigError

Technique = Literal["drop", "pseudonymize", "mask", "generalize", "keep", "top_bottom_code"]
PiiClass = Literal["direct", "quasi", "sensitive", "none"]
_DIRECT_OK = {"drop", "pseudonymize", "mask"}


class AnonymizationSpecError(ConfigError):
    """The de-identification spec would leak or does not fit the table."""

    code = "anonymization-spec-invalid"


@dataclass(frozen=True)
class ColumnRule:
    """How one column is treated.

    ``level`` for ``generalize``: a fixed level, or ``"auto"`` to let the
    k-anonymity search choose (bounded by ``min_level``/``max_level``).
    """

    technique: Technique
    pii_class: PiiClass
    hierarchy: Hierarchy | None = None
    level: int | Literal["auto"] = "auto"
    min_level: int = 0
    max_level: int | None = None
    weight: float = 1.0
    mask_kind: MaskKind | None = None
    bottom: float | None = None
    top: float | None = None
    algorithm: Algorithm = DEFAULT_ALGORITHM


@dataclass(frozen=True)
class AnonymizationSpec:
    """A release's de-identification: rules per column and privacy models."""

    columns: Mapping[str, ColumnRule]
    k: int | None = None
    suppression_limit: float = 0.0
    l_div: int | None = None
    list_notice: bool = False
    metric: str = "loss"
    # the declared quasi-identifiers and sensitive attributes; ``None`` falls
    # back to the columns' PII classes (engine-level use without a catalog)
    quasi_identifiers: tuple[str, ...] | None = None
    sensitive: tuple[str, ...] | None = None
    # publish rows in a random order (CSPRNG-seeded), so row positions link nothing
    shuffle: bool = True

    def qi_names(self) -> list[str]:
        """The quasi-identifiers k-anonymity is enforced on."""
        if self.quasi_identifiers is not None:
            return list(self.quasi_identifiers)
        return [n for n, r in self.columns.items() if r.pii_class == "quasi"]

    def sensitive_names(self) -> list[str]:
        """The sensitive attributes l-diversity is enforced on."""
        if self.sensitive is not None:
            return list(self.sensitive)
        return [n for n, r in self.columns.items() if r.pii_class == "sensitive"]


def validate_spec(table: pa.Table, spec: AnonymizationSpec) -> None:
    """Raise :class:`AnonymizationSpecError` listing every problem at once."""
    problems = []
    for name in table.column_names:
        if name not in spec.columns:
            problems.append(f"column {name!r} has no rule (unclassified columns are refused)")
    for name, rule in spec.columns.items():
        if name not in table.column_names:
            problems.append(f"rule for column {name!r}, which is not in the table")
        if rule.pii_class == "direct" and rule.technique not in _DIRECT_OK:
            problems.append(
                f"column {name!r} is a direct identifier with technique {rule.technique!r}; "
                "use drop, pseudonymize, or mask (list notices only)"
            )
        if rule.technique == "mask" and not spec.list_notice:
            problems.append(f"column {name!r} is masked but the release is not a list notice")
        if rule.technique == "mask" and rule.mask_kind is None:
            problems.append(f"column {name!r}: mask needs mask_kind (id_number, phone, name)")
        if rule.technique == "generalize" and rule.hierarchy is None:
            problems.append(f"column {name!r}: generalize needs a hierarchy")
        if rule.technique == "top_bottom_code" and rule.bottom is None and rule.top is None:
            problems.append(f"column {name!r}: top_bottom_code needs bottom and/or top")
    removed = ("drop", "pseudonymize", "mask")
    for role, names, on, model in (
        ("quasi-identifier", spec.quasi_identifiers or (), spec.k, "k-anonymity"),
        ("sensitive attribute", spec.sensitive or (), spec.l_div, "l-diversity"),
    ):
        for name in names:
            declared = spec.columns.get(name)
            if declared is None:
                problems.append(f"{role} {name!r} has no rule")
            elif on and declared.technique in removed:
                problems.append(
                    f"{role} {name!r} has technique {declared.technique!r}: {model} is "
                    "measured on published columns (generalize, keep or top_bottom_code)"
                )
    if spec.l_div and not spec.sensitive_names():
        problems.append("l-diversity asked but no sensitive attribute is declared")
    if problems:
        raise AnonymizationSpecError(
            "de-identification spec refused: " + "; ".join(problems),
            hint="every column needs a rule; direct identifiers never reach microdata",
        )


def _quasi_identifiers(table: pa.Table, spec: AnonymizationSpec) -> list[QuasiIdentifier]:
    """Every declared quasi-identifier, whatever its column's PII class."""
    qis = []
    for name in spec.qi_names():
        rule = spec.columns[name]
        if rule.technique in ("drop", "pseudonymize", "mask"):
            continue  # refused by validate_spec when k applies
        if rule.technique == "generalize":
            assert rule.hierarchy is not None
            if rule.level == "auto":
                lo, hi = rule.min_level, rule.max_level
            else:
                lo = hi = int(rule.level)
            qis.append(QuasiIdentifier(name, rule.hierarchy, lo, hi, rule.weight))
        else:  # keep / top_bottom_code: takes part as it is
            qis.append(QuasiIdentifier(name, Flat(), 0, 0, rule.weight))
    return qis


def anonymize(
    table: pa.Table, spec: AnonymizationSpec, *, key: bytes | None = None
) -> tuple[pa.Table, dict[str, object]]:
    """De-identify ``table`` by ``spec``; return (table, risk report).

    ``key`` is the release's pseudonym key (:func:`release_key`), needed
    when a column is pseudonymized.
    """
    validate_spec(table, spec)
    if key is None and any(r.technique == "pseudonymize" for r in spec.columns.values()):
        raise AnonymizationSpecError(
            "a column is pseudonymized but no key was given", hint="pass key=release_key(name)"
        )
    out = table.drop_columns([n for n, r in spec.columns.items() if r.technique == "drop"])
    for name, rule in spec.columns.items():
        if rule.technique == "top_bottom_code":
            idx = out.column_names.index(name)
            coded = top_bottom_code(out.column(name), bottom=rule.bottom, top=rule.top)
            out = out.set_column(idx, pa.field(name, pa.string()), coded)
    out, fixed_levels, fixed_labels = _fixed_generalizations(out, spec)
    qis = _quasi_identifiers(out, spec)
    sensitive = [n for n in spec.sensitive_names() if n in out.column_names]
    suppressed, levels, input_rows = 0, {}, table.num_rows
    loss: dict[str, object] | None = None
    if spec.k and qis:
        res = k_anonymize(
            out,
            qis,
            k=spec.k,
            suppression_limit=spec.suppression_limit,
            sensitive=sensitive if spec.l_div else (),
            l_div=spec.l_div,
            metric=spec.metric,
        )
        out, suppressed, levels = res.table, res.suppressed, res.levels
        loss = {
            "metric": spec.metric,
            "total": round(res.loss, 6),
            "generalization": res.stats.get("loss_generalization"),
            "suppression": res.stats.get("loss_suppression"),
        }
    else:
        from onesource.anonymize.kanon import build_lattice, generalize_table

        fixed = [q for q in qis if not isinstance(q.hierarchy, Flat)]
        if fixed:
            lat = build_lattice(out, fixed, k=1)
            lv = [q.max_level if q.max_level is not None else q.min_level for q in fixed]
            out = generalize_table(out, lat, lv)
            levels = {q.name: v for q, v in zip(fixed, lv, strict=True)}
    for name, rule in spec.columns.items():
        if rule.technique not in ("pseudonymize", "mask"):
            continue
        idx = out.column_names.index(name)
        if rule.technique == "pseudonymize":
            assert key is not None
            new = pseudonymize(out.column(name), key, algorithm=rule.algorithm)
        else:
            assert rule.mask_kind is not None
            new = mask(out.column(name), rule.mask_kind, list_notice=spec.list_notice)
        out = out.set_column(idx, pa.field(name, pa.string()), new)
    if spec.shuffle:
        out = shuffle_rows(out)
    labels = {n: level_label(q.hierarchy, levels[n]) for q in qis if (n := q.name) in levels}
    levels = {**fixed_levels, **levels}
    techniques = {n: r.technique for n, r in spec.columns.items()}
    report = risk_report(
        out,
        quasi_identifiers=[q.name for q in qis],
        sensitive=sensitive,
        k=spec.k,
        l_div=spec.l_div,
        techniques=techniques,
        suppressed=suppressed,
        input_rows=input_rows,
        levels=levels,
        level_labels={**fixed_labels, **labels},
        information_loss=loss,
    )
    return out, report


def shuffle_rows(table: pa.Table) -> pa.Table:
    """``table`` in a uniformly random row order from a CSPRNG-seeded permutation.

    Published row positions then carry nothing: two releases of one input
    cannot be lined up row by row.
    """
    import secrets

    import numpy as np

    rng = np.random.default_rng(secrets.randbits(128))
    return table.take(pa.array(rng.permutation(table.num_rows)))


def _fixed_generalizations(
    table: pa.Table, spec: AnonymizationSpec
) -> tuple[pa.Table, dict[str, int], dict[str, str]]:
    """Apply fixed levels of generalized columns that are not quasi-identifiers;
    return the table, their levels and the levels' labels."""
    qis = set(spec.qi_names())
    levels: dict[str, int] = {}
    labels: dict[str, str] = {}
    for name, rule in spec.columns.items():
        if rule.technique != "generalize" or name in qis or name not in table.column_names:
            continue
        if rule.level == "auto":
            raise AnonymizationSpecError(
                f"column {name!r}: level 'auto' is chosen by k-anonymity, "
                "but the column is not a quasi-identifier",
                hint="declare it a quasi-identifier or give a fixed level",
            )
        assert rule.hierarchy is not None
        values = rule.hierarchy.apply(table.column(name).combine_chunks(), int(rule.level))
        table = table.set_column(
            table.column_names.index(name), pa.field(name, pa.string()), values
        )
        levels[name] = int(rule.level)
        labels[name] = level_label(rule.hierarchy, int(rule.level))
    return table, levels, labels
