"""Leak gate: scan every published column, in every published format, for personal data.

:func:`scan` looks at a table (every column, and the column names);
:func:`scan_files` reads each published data file back the way a consumer
does (CSV as text, JSON as parsed values, Parquet as typed columns) and
scans that, so what a format adds (a float written as ``3.30e+17``, a value
``str()``-ed into JSON) is scanned too.

Per column it finds (see :mod:`.leakpatterns` for the exact rules and the
normalization: full width, separators, case, numbers): citizen ID numbers
(18-char with a valid check char, 15-digit first-generation numbers, and
ID-shaped integers in numeric columns), mobile numbers, unified social
credit codes, e-mail addresses; any value of the inputs' direct-identifier
columns, as a whole cell or inside text (see :mod:`.leaknames`); columns
without a PII class, and columns classified ``direct``.

Findings are results: the caller refuses to publish when the list is not
empty.  Examples in findings are redacted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from onesource.anonymize.leakpatterns import (  # re-exported: the gate's public helpers
    credit_code_valid,
    idcard_valid,
)

if TYPE_CHECKING:
    from onesource.anonymize.leaknames import DirectValues

__all__ = ["Finding", "credit_code_valid", "idcard_valid", "redact", "scan", "scan_files"]

PSEUDONYM_SHAPE = r"^[0-9a-f]{32}$"


@dataclass(frozen=True)
class Finding:
    """One kind of leak in one column."""

    column: str
    kind: str  # id-number, mobile, credit-code, email, direct-value, unclassified, ...
    count: int  # rows affected (1 for column-level findings)
    example: str  # redacted
    detail: str = ""

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.column}: {self.count} x {self.kind}, e.g. {self.example}{extra}"


def redact(value: str) -> str:
    """Show a found value without giving it away: ``110***********34``."""
    if "@" in value:
        user, _, domain = value.partition("@")
        return f"{user[:1]}***@{domain}"
    if len(value) >= 8:
        return value[:3] + "*" * (len(value) - 5) + value[-2:]
    return value[:1] + "*" * (len(value) - 1)


def _plain(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    return arr


def _is_number(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t))


def _as_text(arr: pa.Array) -> pa.Array | None:
    """The text a consumer reads from a column, or None where no identifier can hide.

    Integral numbers become their integer digits (``13812345678.0`` ->
    ``13812345678``); dates, times and booleans are not scanned.
    """
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_string(t):
        return arr
    if pa.types.is_large_string(t) or pa.types.is_string_view(t) or pa.types.is_decimal(t):
        return pc.cast(arr, pa.string())
    if pa.types.is_integer(t):
        return pc.cast(arr, pa.string())
    if pa.types.is_floating(t):
        f = pc.cast(arr, pa.float64())
        whole = pc.and_(pc.is_finite(f), pc.less(pc.abs(f), 9e18))
        as_int = pc.cast(pc.if_else(whole, pc.floor(f), 0.0), pa.int64())
        return pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(f, pa.string()))
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return pc.cast(pc.cast(arr, pa.binary()), pa.string(), safe=False)
    if pa.types.is_nested(t):
        import json

        return pa.array(
            [
                None if v is None else json.dumps(v, ensure_ascii=False, default=str)
                for v in arr.to_pylist()
            ],
            pa.string(),
        )
    return None


def _patterns(name: str, arr: pa.Array, text: pa.Array) -> list[Finding]:
    """Identifier patterns in one column (dictionary-encoded: distinct values scanned once)."""
    import pyarrow.compute as pc

    from onesource.anonymize import leakpatterns as lp

    n = len(text)
    rows: dict[str, np.ndarray] = {}
    examples: dict[str, str] = {}
    if _is_number(arr.type):
        # a number holds digits only: ID numbers and mobiles are all it can carry
        nums = pc.fill_null(arr, 0).to_numpy(zero_copy_only=False)
        found = []
        for kind, hit in lp.numeric_identifiers(nums).items():
            if hit.any():
                ex = text[int(np.flatnonzero(hit)[0])].as_py()
                found.append(Finding(name, kind, int(hit.sum()), redact(ex)))
        return found
    enc = pc.dictionary_encode(text)
    uniq = enc.dictionary
    idx = pc.fill_null(enc.indices, 0).to_numpy(zero_copy_only=False)
    valid = enc.indices.is_valid().to_numpy(zero_copy_only=False)
    norm = lp.normalize(uniq)
    # only values that can hold a pattern: 6+ digits (every ID, mobile and credit
    # code has them), an @, or a number in scientific notation
    can = pc.or_(
        pc.greater_equal(pc.count_substring_regex(norm, "[0-9]"), 6),
        pc.match_substring_regex(norm, "@|[0-9]E"),
    )
    cand = np.flatnonzero(pc.fill_null(can, False).to_numpy(zero_copy_only=False))
    norm = pc.take(norm, pa.array(cand, pa.int64()))
    views = [(norm, cand)]
    collapsed = lp.collapse_separators(norm)
    changed = np.flatnonzero(pc.not_equal(collapsed, norm).to_numpy(zero_copy_only=False))
    if len(changed):
        views.append((pc.take(collapsed, pa.array(changed)), cand[changed]))
    for view, where in views:
        for kind, (hit, ex) in lp.pattern_rows(view).items():
            per_uniq = np.zeros(len(uniq), dtype=bool)
            per_uniq[where[hit]] = True
            r = per_uniq[idx] & valid
            rows[kind] = rows.get(kind, np.zeros(n, dtype=bool)) | r
            examples.setdefault(kind, ex[0] if ex else "")
    return [
        Finding(name, kind, int(r.sum()), redact(examples.get(kind) or ""))
        for kind, r in rows.items()
        if r.any()
    ]


def _pseudonym_shape(name: str, text: pa.Array) -> list[Finding]:
    import pyarrow.compute as pc

    bad = pc.invert(pc.fill_null(pc.match_substring_regex(text, PSEUDONYM_SHAPE), True))
    n = int(pc.sum(bad).as_py() or 0)
    if not n:
        return []
    return [
        Finding(
            name, "pseudonym-format", n, redact(pc.filter(text, bad)[0].as_py()), "not 32 hex chars"
        )
    ]


def scan(
    table: pa.Table,
    *,
    classification: Mapping[str, str],
    direct_values: Mapping[str, pa.Array | pa.ChunkedArray] | None = None,
    _direct: DirectValues | None = None,
) -> list[Finding]:
    """Every leak found in ``table``; empty means the gate is passed.

    ``classification`` maps each output column to its PII class (``direct``,
    ``quasi``, ``sensitive``, ``none``, or ``pseudonym`` for keyed pseudonym
    columns, which must all look like 32 lowercase hex chars and are then
    not pattern-scanned, since random hex holds digit runs).
    ``direct_values`` maps each direct-identifier column of the inputs
    (listed in the release or not) to its values.  Column names are
    scanned for patterns too.
    """

    direct = _direct if _direct is not None else _direct_values(direct_values)
    findings: list[Finding] = []
    header = pa.array(list(table.column_names), pa.string())
    findings.extend(f for f in _patterns("<column names>", header, header))
    for name in table.column_names:
        cls = classification.get(name)
        if cls is None:
            findings.append(
                Finding(name, "unclassified", 1, "", "every published column needs a PII class")
            )
        elif cls == "direct":
            findings.append(
                Finding(
                    name,
                    "direct-identifier-column",
                    1,
                    "",
                    "direct identifiers never reach microdata",
                )
            )
        arr = _plain(table.column(name))
        text = _as_text(arr)
        if text is None:
            continue
        if cls == "pseudonym":
            bad = _pseudonym_shape(name, text)
            findings.extend(bad)
            if not bad:
                continue  # 32 hex chars: holds no name, number or direct value
        else:
            findings.extend(_patterns(name, arr, text))
        if direct is not None:
            exact_only = _is_number(arr.type)
            for src, (rows, example) in direct.rows(text, exact_only=exact_only).items():
                findings.append(
                    Finding(
                        name,
                        "direct-value",
                        int(rows.sum()),
                        redact(example),
                        f"value of input column {src!r}",
                    )
                )
    return findings


def _direct_values(
    direct_values: Mapping[str, pa.Array | pa.ChunkedArray] | None,
) -> DirectValues | None:
    from onesource.anonymize.leaknames import DirectValues

    if not direct_values:
        return None
    texts = {}
    for name, values in direct_values.items():
        text = _as_text(_plain(values))
        if text is not None:
            texts[name] = text
    return DirectValues.build(texts) if texts else None


_JSON_NATIVE: tuple[Callable[[pa.DataType], bool], ...] = (
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_boolean,
    pa.types.is_null,
)


def _json_native(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return any(check(t) for check in _JSON_NATIVE)


def read_published(
    files: Mapping[str, bytes], *, table: pa.Table | None = None
) -> dict[str, pa.Table]:
    """Each data file read back as a consumer reads it: CSV as text, JSON parsed, Parquet typed.

    With ``table`` (the table the files were written from, already scanned):
    Parquet is left out when it reads back equal to it, and JSON keeps only
    the columns whose values ``json.dumps`` turned into ``str()`` text
    (dates, decimals, binary...), the others being the table's own values.
    """
    import io
    import json

    import pyarrow.parquet as pq

    out: dict[str, pa.Table] = {}
    for fname, data in files.items():
        if fname.endswith(".csv"):
            first = data[: data.find(b"\n")].decode("utf-8-sig") if data else ""
            import csv

            names = next(csv.reader([first]), [])
            # text as written; numbers (never quoted) read as numbers, as spreadsheets do
            typed = {
                f.name: f.type
                for f in (table.schema if table is not None else [])
                if _is_number(f.type)
            }
            types = {n: typed.get(n, pa.string()) for n in names}
            try:
                out[fname] = _read_csv(data, types)
            except pa.ArrowInvalid:
                out[fname] = _read_csv(data, {n: pa.string() for n in names})
        elif fname.endswith(".json"):
            keep = None
            if table is not None:
                keep = {f.name for f in table.schema if not _json_native(f.type)}
                if not keep:
                    continue
            rows = json.loads(data)
            names = [n for n in (list(rows[0]) if rows else []) if keep is None or n in keep]
            cols = {}
            for n in names:
                values = [r.get(n) for r in rows]
                try:
                    cols[n] = pa.array(values)
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    cols[n] = pa.array([None if v is None else str(v) for v in values], pa.string())
            out[fname] = pa.table(cols) if cols else pa.table({})
        elif fname.endswith(".parquet"):
            back = pq.read_table(io.BytesIO(data))
            if table is None or not back.equals(table):
                out[fname] = back
    return out


def _read_csv(data: bytes, types: dict[str, pa.DataType]) -> pa.Table:
    import io

    import pyarrow.csv as pacsv

    options = pacsv.ConvertOptions(column_types=types, strings_can_be_null=False)
    return pacsv.read_csv(io.BytesIO(data), convert_options=options)


def scan_files(
    files: Mapping[str, bytes],
    *,
    classification: Mapping[str, str],
    direct_values: Mapping[str, pa.Array | pa.ChunkedArray] | None = None,
    table: pa.Table | None = None,
    _direct: DirectValues | None = None,
) -> list[Finding]:
    """:func:`scan` on every published data file, read back; findings name the file.

    ``table``: the table the files were written from, when it was scanned
    already (see :func:`read_published`).
    """
    direct = _direct if _direct is not None else _direct_values(direct_values)
    findings: list[Finding] = []
    for fname, back in read_published(files, table=table).items():
        for f in scan(back, classification=classification, _direct=direct):
            findings.append(Finding(f"{fname}: {f.column}", f.kind, f.count, f.example, f.detail))
    return findings


def prepare_direct(
    direct_values: Mapping[str, pa.Array | pa.ChunkedArray] | None,
) -> DirectValues | None:
    """Build the direct-value matcher once for several scans (``_direct=``)."""
    return _direct_values(direct_values)
