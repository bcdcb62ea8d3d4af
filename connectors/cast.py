"""Cast source columns to the resource's pinned Arrow schema (never inferred).

``cast_rows`` is lenient: a value that cannot be read as its field's type
(``'2024-02-30'`` for a date) marks its row bad, and the row is left out of the
batch and reported.  What cannot be a per-row problem is schema drift and
raises ``ColumnDriftError``: a missing or renamed column, a source type the
field's type cannot come from (an integer where a date is expected), or a
column in which every value fails.  ``cast_batch`` is the strict form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from connectors.errors import ColumnDriftError

# a column of text whose every value fails is drift, not a batch of bad rows,
# once it holds at least this many values
DRIFT_MIN_VALUES = 5

_TRUE = ["true", "t", "yes", "y", "1", "是"]
_FALSE = ["false", "f", "no", "n", "0", "否"]
# Excel stores dates as datetimes at midnight: accept exactly midnight for date columns
_DATE_FORMATS = (
    "%Y/%m/%d",
    "%Y%m%d",
    "%Y.%m.%d",
    "%Y年%m月%d日",
    "%Y-%m-%d 00:00:00",
    "%Y/%m/%d 00:00:00",
)
_TIMESTAMP_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d")

# target family -> source families it may be cast from
_ALLOWED: dict[str, set[str]] = {
    "string": {"string", "int", "float", "decimal", "date", "timestamp", "bool"},
    "int": {"int", "float", "decimal", "string", "bool"},
    "float": {"int", "float", "decimal", "string"},
    "decimal": {"int", "float", "decimal", "string"},
    "date": {"date", "timestamp", "string"},
    "timestamp": {"timestamp", "date", "string"},
    "bool": {"bool", "int", "string"},
    "binary": {"binary", "string"},
}


@dataclass
class CastResult:
    """Good rows in the pinned schema, and why each bad input row was left out."""

    batch: pa.RecordBatch
    errors: dict[int, str] = field(default_factory=dict)  # input row index -> reason

    @property
    def bad_rows(self) -> list[int]:
        return sorted(self.errors)


def family(dtype: pa.DataType) -> str:
    """Coarse type family used to decide which casts are allowed."""
    t = pa.types
    if t.is_null(dtype):
        return "null"
    if t.is_string(dtype) or t.is_large_string(dtype) or t.is_string_view(dtype):
        return "string"
    if t.is_boolean(dtype):
        return "bool"
    if t.is_integer(dtype):
        return "int"
    if t.is_floating(dtype):
        return "float"
    if t.is_decimal(dtype):
        return "decimal"
    if t.is_date(dtype):
        return "date"
    if t.is_timestamp(dtype):
        return "timestamp"
    if t.is_binary(dtype) or t.is_large_binary(dtype) or t.is_fixed_size_binary(dtype):
        return "binary"
    if t.is_dictionary(dtype):
        return family(dtype.value_type)
    return str(dtype)


def find_column(names: list[str], wanted: str) -> int | None:
    """Index of ``wanted`` among ``names``: exact match first, then case-insensitive."""
    if wanted in names:
        return names.index(wanted)
    lowered = [n.lower() for n in names]
    return lowered.index(wanted.lower()) if wanted.lower() in lowered else None


def cast_rows(
    batch: pa.RecordBatch,
    schema: pa.Schema,
    resource: str,
    *,
    columns: Mapping[str, str] | None = None,
    allow_missing: bool = False,
) -> CastResult:
    """Cast ``batch`` to ``schema``; bad values drop their row, drift raises.

    ``columns`` maps a field name to its source column when they differ.
    ``allow_missing`` fills absent *nullable* fields with nulls (record sources
    such as JSON omit keys whose value is null).
    """
    names = batch.schema.names
    arrays: list[pa.Array] = []
    bad = np.zeros(batch.num_rows, dtype=bool)
    errors: dict[int, str] = {}
    for fld in schema:
        source = (columns or {}).get(fld.name, fld.name)
        idx = find_column(names, source)
        if idx is None:
            if allow_missing and fld.nullable:
                arrays.append(pa.nulls(batch.num_rows, fld.type))
                continue
            shown = ", ".join(names[:30]) or "none"
            where = f" (source column {source!r})" if source != fld.name else ""
            raise ColumnDriftError(
                resource,
                fld.name,
                str(fld.type),
                "no such column",
                detail=f"{where} source has: {shown}".strip(),
            )
        arr, col_bad = cast_column(batch.column(idx), fld.type, resource, fld.name)
        arrays.append(arr)
        if col_bad is not None:
            source_arr = batch.column(idx)
            for row in np.flatnonzero(col_bad).tolist():
                value = source_arr[row].as_py()
                reason = f"column {fld.name!r}: cannot read {value!r} as {fld.type}"
                errors[row] = f"{errors[row]}; {reason}" if row in errors else reason
            bad |= col_bad
    out = pa.RecordBatch.from_arrays(arrays, schema=schema)
    if errors:
        out = out.filter(pa.array(~bad))
    return CastResult(out, errors)


def cast_batch(batch: pa.RecordBatch, schema: pa.Schema, resource: str) -> pa.RecordBatch:
    """Strict cast: any value that cannot be cast raises ``ColumnDriftError``."""
    result = cast_rows(batch, schema, resource)
    if result.errors:
        row = result.bad_rows[0]
        reason = result.errors[row]
        column = reason.split("'")[1]
        found = str(batch.schema.field(find_column(batch.schema.names, column) or 0).type)
        raise ColumnDriftError(
            resource, column, str(schema.field(column).type), found, detail=f"row {row}: {reason}"
        )
    return result.batch


def cast_column(
    arr: pa.Array | pa.ChunkedArray, target: pa.DataType, resource: str, column: str
) -> tuple[pa.Array, np.ndarray | None]:
    """Cast one column; returns the cast array (bad values null) and a mask of bad rows."""
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if isinstance(
        arr.type, pa.BaseExtensionType
    ):  # e.g. PostgreSQL numeric from ADBC: text storage
        arr = arr.storage
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if arr.type == target:
        return arr, None
    src, dst = family(arr.type), family(target)
    if src == "null":
        return pa.nulls(len(arr), target), None
    if dst not in _ALLOWED or src not in _ALLOWED[dst]:
        raise ColumnDriftError(resource, column, str(target), str(arr.type), detail=_sample(arr))
    prepared = _prepare(arr, src, dst, target)
    safe = not (src == "timestamp" and dst == "timestamp")  # ns -> us truncates on purpose
    try:
        return pc.cast(prepared, target, safe=safe), _bool_bad(arr, prepared, src, dst)
    except (pa.ArrowInvalid, OverflowError):
        pass
    bad_idx = _locate_bad(prepared, target, safe)
    mask = np.zeros(len(arr), dtype=bool)
    mask[bad_idx] = True
    fixed: pa.Array | None = None
    if src == "string" and dst in ("date", "timestamp"):
        fixed = _alt_formats(prepared.take(pa.array(bad_idx, pa.int64())), target)
    cleaned = pc.if_else(pa.array(mask), pa.nulls(len(arr), prepared.type), prepared)
    result = pc.cast(cleaned, target, safe=safe)
    if fixed is not None and fixed.null_count < len(fixed):
        ok = np.asarray(fixed.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        repl = np.zeros(len(arr), dtype=bool)
        repl[np.asarray(bad_idx)[ok]] = True
        result = pc.replace_with_mask(result, pa.array(repl), fixed.filter(pa.array(ok)))
        mask &= ~repl
    values = len(arr) - arr.null_count
    if mask.any() and int(mask.sum()) == values and (values >= DRIFT_MIN_VALUES or src != "string"):
        raise ColumnDriftError(
            resource,
            column,
            str(target),
            str(arr.type),
            detail=f"no value could be cast; {_sample(arr)}",
        )
    bool_bad = _bool_bad(arr, prepared, src, dst)
    if bool_bad is not None:
        mask |= bool_bad
    return result, (mask if mask.any() else None)


def _prepare(arr: pa.Array, src: str, dst: str, target: pa.DataType) -> pa.Array:
    import pyarrow.compute as pc

    if src == "string" and dst not in ("string", "binary"):
        arr = pc.utf8_trim_whitespace(arr)
        arr = pc.if_else(pc.equal(arr, ""), pa.nulls(len(arr), arr.type), arr)
        if dst == "bool":
            low = pc.utf8_lower(arr)
            truth = pc.if_else(pc.is_in(low, pa.array(_TRUE)), "true", None)
            falsity = pc.if_else(pc.is_in(low, pa.array(_FALSE)), "false", None)
            return pc.coalesce(truth, falsity)
    # whole numbers from spreadsheets (330102.0) are codes, not floats
    whole = (
        src == "float"
        and dst == "string"
        and (arr.null_count == len(arr) or bool(pc.all(pc.equal(pc.floor(arr), arr)).as_py()))
    )
    if whole:
        return pc.cast(arr, pa.int64(), safe=False)
    if src == "int" and dst == "decimal" and isinstance(target, pa.Decimal128Type):
        # Arrow refuses int64 -> decimal(p, s) for p < 19 + s whatever the values; widen
        # first, then the cast to the target checks each value's precision
        return pc.cast(arr.cast(pa.int64()), pa.decimal128(38, target.scale))
    return arr


def _bool_bad(arr: pa.Array, prepared: pa.Array, src: str, dst: str) -> np.ndarray | None:
    """Text that is not a recognised yes/no value became null in ``_prepare``: flag it."""
    if not (src == "string" and dst == "bool"):
        return None
    import pyarrow.compute as pc

    lost = pc.and_(pc.is_valid(pc.utf8_trim_whitespace(arr)), pc.is_null(prepared))
    lost = pc.and_(lost, pc.not_equal(pc.utf8_trim_whitespace(arr), ""))
    mask = np.asarray(lost.to_numpy(zero_copy_only=False), dtype=bool)
    return mask if mask.any() else None


def _locate_bad(arr: pa.Array, target: pa.DataType, safe: bool) -> list[int]:
    """Indices of values that fail to cast, by bisection: O(bad * log n) casts."""
    import pyarrow.compute as pc

    out: list[int] = []
    stack = [(0, len(arr))]
    while stack:
        start, stop = stack.pop()
        try:
            pc.cast(arr.slice(start, stop - start), target, safe=safe)
            continue
        except (pa.ArrowInvalid, OverflowError):
            pass
        if stop - start == 1:
            out.append(start)
            continue
        mid = (start + stop) // 2
        stack += [(mid, stop), (start, mid)]
    return sorted(out)


def _alt_formats(values: pa.Array, target: pa.DataType) -> pa.Array:
    """Dates/times written other than ISO (2024/3/1, 20240301, 2024年3月1日)."""
    import pyarrow.compute as pc

    formats = _DATE_FORMATS if pa.types.is_date(target) else _TIMESTAMP_FORMATS
    parsed = [pc.strptime(values, format=f, unit="us", error_is_null=True) for f in formats]
    return pc.cast(pc.coalesce(*parsed), target, safe=False)


def _sample(arr: pa.Array) -> str:
    sample = [v for v in arr.drop_null().slice(0, 3).to_pylist()]
    return f"values like {', '.join(repr(v) for v in sample)}" if sample else "only nulls"


def reason_column(reason: str) -> str | None:
    """The field a reason from ``cast_rows`` names."""
    parts = reason.split("'")
    return parts[1] if len(parts) > 2 else None


def rows_as_text(batch: pa.RecordBatch, rows: list[int]) -> dict[int, str]:
    """A JSON rendering of some input rows, for reject reports."""
    import json

    picked = batch.take(pa.array(rows, pa.int64())).to_pylist()
    return {
        r: json.dumps(v, ensure_ascii=False, default=str) for r, v in zip(rows, picked, strict=True)
    }
