"""Row-level checks compiled from a resource's catalog entry.

Every check has a stable id (``<field>:<kind>[.<detail>]``), a severity and a
vectorized ``failures(table)`` returning a numpy bool array, True where a row
fails.  The Great Expectations suite (``onesource.quality.gx``) is built from
the same list, so both engines check the same things.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from onesource.quality import domain
from schemas.catalog import Catalog
from schemas.quality import (
    DomainRule,
    InSetRule,
    LengthRule,
    NotNullRule,
    PatternRule,
    RangeRule,
    UniqueRule,
)
from schemas.resource import Resource
from schemas.vocab import DataType, Domain, Severity


@dataclass
class Check:
    id: str
    kind: str  # not_null | unique | pattern | in_set | range | length | domain
    fields: list[str]
    severity: Severity
    description: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def field(self) -> str:
        return self.fields[0]

    def failures(self, table: pa.Table) -> np.ndarray:
        return _EVALUATORS[self.kind](self, table)


def compile_checks(catalog: Catalog, res: Resource) -> list[Check]:
    """Every row-level check implied by the fields and declared in ``quality.rules``."""
    checks: list[Check] = []
    divisions = _division_codes(catalog)
    blocking = Severity.blocking
    for name, spec in res.fields.items():
        el = catalog.field_element(spec)
        if spec.required or name in res.primary_key:
            checks.append(
                Check(f"{name}:not_null", "not_null", [name], blocking, f"{name} must be filled")
            )
        if spec.unique and res.primary_key != [name]:
            checks.append(
                Check(f"{name}:unique", "unique", [name], blocking, f"{name} must be unique")
            )
        pattern = spec.pattern or (el.pattern if el else None)
        if pattern:
            checks.append(
                Check(
                    f"{name}:pattern",
                    "pattern",
                    [name],
                    blocking,
                    f"{name} must match {pattern}",
                    {"pattern": pattern},
                )
            )
        code_list = spec.code_list or (el.code_list if el else None)
        if code_list and code_list in catalog.code_lists:
            codes = catalog.code_lists[code_list].codes
            checks.append(
                Check(
                    f"{name}:in_set",
                    "in_set",
                    [name],
                    blocking,
                    f"{name} must be a code of {code_list}",
                    {"values": codes, "code_list": code_list},
                )
            )
        length = spec.length or (el.length if el else None)
        dtype = catalog.field_type(spec)
        if length and dtype in (DataType.C, DataType.M):
            checks.append(
                Check(
                    f"{name}:length",
                    "length",
                    [name],
                    blocking,
                    f"{name} must be at most {length} characters",
                    {"max": length},
                )
            )
        dom = spec.domain or (el.domain if el else None)
        if dom is not None:
            params: dict[str, Any] = {"domain": dom.value}
            if dom in (Domain.id_number, Domain.division_code):
                params["divisions"] = divisions
            checks.append(
                Check(
                    f"{name}:domain.{dom.value}",
                    "domain",
                    [name],
                    blocking,
                    f"{name} must be a valid {dom.label_en}",
                    params,
                )
            )
    checks.append(
        Check(
            f"{'+'.join(res.primary_key)}:primary_key",
            "unique",
            list(res.primary_key),
            Severity.blocking,
            f"primary key ({', '.join(res.primary_key)}) must be unique",
        )
    )
    for i, rule in enumerate(res.quality.rules):
        checks.append(_rule_check(catalog, res, rule, i, divisions))
    return checks


def _rule_check(catalog: Catalog, res: Resource, rule: Any, i: int, divisions: list[str]) -> Check:
    label = rule.name or f"rule{i + 1}"
    sev = rule.severity
    if isinstance(rule, UniqueRule):
        return Check(
            f"{'+'.join(rule.fields)}:unique.{label}",
            "unique",
            list(rule.fields),
            sev,
            rule.description or f"({', '.join(rule.fields)}) must be unique",
        )
    f = rule.field
    desc = rule.description
    if isinstance(rule, NotNullRule):
        return Check(f"{f}:not_null.{label}", "not_null", [f], sev, desc or f"{f} must be filled")
    if isinstance(rule, PatternRule):
        return Check(
            f"{f}:pattern.{label}",
            "pattern",
            [f],
            sev,
            desc or f"{f} must match {rule.pattern}",
            {"pattern": rule.pattern},
        )
    if isinstance(rule, InSetRule):
        values = (
            rule.values
            if rule.values is not None
            else catalog.code_lists[rule.code_list or ""].codes
        )
        return Check(
            f"{f}:in_set.{label}",
            "in_set",
            [f],
            sev,
            desc or f"{f} must be one of the allowed values",
            {"values": list(values)},
        )
    if isinstance(rule, RangeRule):
        dtype = catalog.field_type(res.fields[f])
        lo, hi = _bound(rule.min, dtype), _bound(rule.max, dtype)
        return Check(
            f"{f}:range.{label}",
            "range",
            [f],
            sev,
            desc or f"{f} must be between {rule.min} and {rule.max}",
            {"min": lo, "max": hi},
        )
    if isinstance(rule, LengthRule):
        return Check(
            f"{f}:length.{label}",
            "length",
            [f],
            sev,
            desc or f"{f} length out of bounds",
            {"min": rule.min, "max": rule.max},
        )
    if isinstance(rule, DomainRule):
        return Check(
            f"{f}:domain.{label}",
            "domain",
            [f],
            sev,
            desc or f"{f} must be a valid {rule.domain.label_en}",
            {"domain": rule.domain.value, "divisions": divisions},
        )
    raise TypeError(f"unknown rule {rule!r}")


def _bound(value: Any, dtype: DataType) -> Any:
    if value is None:
        return None
    if dtype is DataType.D:
        return dt.date.fromisoformat(str(value))
    if dtype is DataType.T:
        return dt.datetime.fromisoformat(str(value))
    return value


def _division_codes(catalog: Catalog) -> list[str]:
    cl = catalog.code_lists.get("divisions")
    return cl.codes if cl else []


def _np(mask: Any) -> np.ndarray:
    import pyarrow.compute as pc

    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _not_null(c: Check, t: pa.Table) -> np.ndarray:
    nulls: np.ndarray = t[c.field].is_null().to_numpy(zero_copy_only=False)
    return nulls


def _unique(c: Check, t: pa.Table) -> np.ndarray:
    """Every occurrence of a key after its first fails."""
    import pyarrow.compute as pc

    if t.num_rows == 0:
        return np.zeros(0, bool)
    keyed = t.select(c.fields).append_column("__row", pa.array(np.arange(t.num_rows)))
    firsts = keyed.group_by(c.fields, use_threads=False).aggregate([("__row", "min")])["__row_min"]
    return ~np.asarray(
        pc.is_in(keyed["__row"], value_set=firsts).to_numpy(zero_copy_only=False), dtype=bool
    )


def _pattern(c: Check, t: pa.Table) -> np.ndarray:
    import pyarrow.compute as pc

    col = t[c.field]
    if not pa.types.is_string(col.type):
        col = pc.cast(col, pa.string())
    return ~np.asarray(
        pc.fill_null(pc.match_substring_regex(col, c.params["pattern"]), True).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )


def _in_set(c: Check, t: pa.Table) -> np.ndarray:
    import pyarrow.compute as pc

    col = t[c.field]
    values = pa.array([str(v) for v in c.params["values"]], pa.string())
    if not pa.types.is_string(col.type):
        col = pc.cast(col, pa.string())
    return ~np.asarray(
        pc.fill_null(pc.is_in(col, value_set=values), True).to_numpy(zero_copy_only=False),
        dtype=bool,
    )


def _range(c: Check, t: pa.Table) -> np.ndarray:
    import pyarrow.compute as pc

    col = t[c.field]
    bad = np.zeros(t.num_rows, bool)
    for key, op in (("min", pc.less), ("max", pc.greater)):
        bound = c.params.get(key)
        if bound is None:
            continue
        scalar = pa.scalar(bound)
        if (
            pa.types.is_decimal(col.type)
            or pa.types.is_floating(col.type)
            or pa.types.is_integer(col.type)
        ):
            bad |= _np(op(pc.cast(col, pa.float64()), pa.scalar(float(bound))))
        elif pa.types.is_timestamp(col.type):
            bad |= _np(op(col, pa.scalar(bound, type=col.type)))
        else:
            bad |= _np(op(col, scalar.cast(col.type)))
    return bad


def _length(c: Check, t: pa.Table) -> np.ndarray:
    import pyarrow.compute as pc

    lengths = pc.utf8_length(t[c.field])
    bad = np.zeros(t.num_rows, bool)
    if c.params.get("max") is not None:
        bad |= _np(pc.greater(lengths, c.params["max"]))
    if c.params.get("min") is not None:
        bad |= _np(pc.less(lengths, c.params["min"]))
    return bad


def _domain(c: Check, t: pa.Table) -> np.ndarray:
    col = t[c.field]
    kind = c.params["domain"]
    divisions = c.params.get("divisions") or None
    if kind == "id_number":
        ok = domain.id_number_valid(col, divisions)
    elif kind == "credit_code":
        ok = domain.credit_code_valid(col)
    elif kind == "mobile":
        ok = domain.mobile_valid(col)
    else:
        ok = domain.division_valid(col, divisions or [])
    return ~ok


_EVALUATORS: dict[str, Callable[[Check, pa.Table], np.ndarray]] = {
    "not_null": _not_null,
    "unique": _unique,
    "pattern": _pattern,
    "in_set": _in_set,
    "range": _range,
    "length": _length,
    "domain": _domain,
}
