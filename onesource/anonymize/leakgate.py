"""Leak gate: scan every output column for personal data before publishing.

Finds, per column: citizen ID numbers (18 chars with a valid GB 11643 check
digit, alone or inside text), mobile numbers (``1[3-9]`` + 9 digits between
non-digits, optional ``86`` prefix), unified social credit codes (GB 32100
with a valid check character), e-mail addresses, any value of the inputs'
direct-identifier columns (whole cell, and inside text for values of 8+
letters/digits such as ID, phone or licence numbers), columns without a
classification, and columns classified ``direct``.

Findings are results: :func:`scan` returns them and the caller refuses to
publish when the list is not empty.  Examples in findings are redacted.

Candidate extraction is vectorized: text is split into runs of digits (or
letters and digits) with ``pyarrow.compute``, runs of the right length are
checked with the numpy check-digit helpers below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = np.array([1, 0, 10, 9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)  # "10X98765432"
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = np.array(
    [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64
)
CREDIT_SHAPE = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
PSEUDONYM_SHAPE = r"^[0-9a-f]{32}$"
EMBEDDED_MIN_LENGTH = 8

_CREDIT_LUT = np.full(256, -1, dtype=np.int64)
for _i, _ch in enumerate(CREDIT_CHARS):
    _CREDIT_LUT[ord(_ch)] = _i


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


def _fixed18(values: pa.Array | Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """(n x 18 byte matrix of the 18-byte values, their positions)."""
    import pyarrow.compute as pc

    arr = (
        values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, pa.string())
    )
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.binary())
    is18 = pc.fill_null(pc.equal(pc.binary_length(arr), 18), False)
    pos = np.flatnonzero(is18.to_numpy(zero_copy_only=False))
    fixed = pc.filter(arr, is18).cast(pa.binary(18))
    buf = fixed.buffers()[1]
    if buf is None or len(pos) == 0:
        return np.zeros((0, 18), dtype=np.uint8), pos
    mat = np.frombuffer(buf, dtype=np.uint8, count=18 * len(fixed), offset=18 * fixed.offset)
    return mat.reshape(-1, 18), pos


def idcard_valid(values: pa.Array | Sequence[str | None]) -> np.ndarray:
    """Per value: 18 chars, 17 digits and a valid GB 11643 check char (X or x)."""
    mat, pos = _fixed18(values)
    out = np.zeros(len(values), dtype=bool)
    if not len(pos):
        return out
    digits = mat[:, :17].astype(np.int64) - 48
    last = mat[:, 17].astype(np.int64)
    last_val = np.where((last == ord("X")) | (last == ord("x")), 10, last - 48)
    ok = np.all((digits >= 0) & (digits <= 9), axis=1) & (last_val >= 0) & (last_val <= 10)
    expected = ID_CHECK[(np.clip(digits, 0, 9) @ ID_WEIGHTS) % 11]
    out[pos] = ok & (last_val == expected)
    return out


def credit_code_valid(values: pa.Array | Sequence[str | None]) -> np.ndarray:
    """Per value: 18 chars of the GB 32100 alphabet with a valid check char."""
    mat, pos = _fixed18(values)
    out = np.zeros(len(values), dtype=bool)
    if not len(pos):
        return out
    vals = _CREDIT_LUT[mat]
    ok = np.all(vals >= 0, axis=1)
    check = (31 - (np.clip(vals[:, :17], 0, None) @ CREDIT_WEIGHTS) % 31) % 31
    out[pos] = ok & (vals[:, 17] == check)
    return out


def redact(value: str) -> str:
    """Show a found value without giving it away: ``110***********34``."""
    if "@" in value:
        user, _, domain = value.partition("@")
        return f"{user[:1]}***@{domain}"
    if len(value) >= 8:
        return value[:3] + "*" * (len(value) - 5) + value[-2:]
    return value[:1] + "*" * (len(value) - 1)


def _tokens(text: pa.Array, separators: str) -> tuple[pa.Array, np.ndarray]:
    """Runs between ``separators`` matches, with the row each came from."""
    import pyarrow.compute as pc

    parts = pc.split_pattern_regex(text, separators)
    return pc.list_flatten(parts), pc.list_parent_indices(parts).to_numpy(zero_copy_only=False)


def _rows_hit(parents: np.ndarray, hit: np.ndarray, tokens: pa.Array) -> tuple[int, str | None]:
    idx = np.flatnonzero(hit)
    if not len(idx):
        return 0, None
    return len(np.unique(parents[idx])), tokens[int(idx[0])].as_py()


def _pattern_findings(name: str, text: pa.Array) -> list[Finding]:
    import pyarrow.compute as pc

    found: list[Finding] = []
    tok, par = _tokens(text, r"[^0-9Xx]+")
    tok = pc.utf8_ltrim(tok, "Xx")  # an ID never starts with X
    ids = idcard_valid(tok)
    n, ex = _rows_hit(par, ids, tok)
    if n:
        found.append(Finding(name, "id-number", n, redact(ex or "")))
    dig, dpar = _tokens(text, r"[^0-9]+")
    dig = pc.if_else(
        pc.and_(pc.equal(pc.utf8_length(dig), 13), pc.starts_with(dig, "86")),
        pc.utf8_slice_codeunits(dig, 2),
        dig,
    )
    mobile = pc.fill_null(pc.match_substring_regex(dig, r"^1[3-9][0-9]{9}$"), False)
    n, ex = _rows_hit(dpar, mobile.to_numpy(zero_copy_only=False), dig)
    if n:
        found.append(Finding(name, "mobile", n, redact(ex or "")))
    up, upar = _tokens(text, r"[^0-9A-Z]+")
    shaped = pc.fill_null(pc.match_substring_regex(up, CREDIT_SHAPE), False)
    credit = shaped.to_numpy(zero_copy_only=False) & credit_code_valid(up) & ~idcard_valid(up)
    n, ex = _rows_hit(upar, credit, up)
    if n:
        found.append(Finding(name, "credit-code", n, redact(ex or "")))
    mail = pc.fill_null(pc.match_substring_regex(text, EMAIL), False)
    n = int(pc.sum(mail).as_py() or 0)
    if n:
        first = pc.filter(text, mail)[0].as_py()
        found.append(Finding(name, "email", n, redact(_first_email(first))))
    return found


def _first_email(text: str) -> str:
    import re

    m = re.search(EMAIL, text)
    return m.group(0) if m else text


def _as_text(col: pa.ChunkedArray | pa.Array) -> pa.Array | None:
    """String view of a column worth scanning (text and integers), else None."""
    import pyarrow.compute as pc

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
        t = arr.type
    if pa.types.is_string(t):
        return arr
    if pa.types.is_large_string(t) or pa.types.is_integer(t) or pa.types.is_decimal(t):
        return pc.cast(arr, pa.string())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return pc.cast(arr, pa.string(), safe=False)
    return None


def _direct_sets(
    direct_values: Mapping[str, pa.Array | pa.ChunkedArray],
) -> list[tuple[str, pa.Array, pa.Array]]:
    """Per input column: (name, all distinct values, long ones for embedded search)."""
    import pyarrow.compute as pc

    sets = []
    for name, values in direct_values.items():
        text = _as_text(values)
        if text is None:
            continue
        uniq = pc.unique(pc.drop_null(pc.utf8_trim_whitespace(text)))
        uniq = pc.filter(uniq, pc.greater(pc.utf8_length(uniq), 0))
        long = pc.filter(
            uniq,
            pc.and_(
                pc.greater_equal(pc.utf8_length(uniq), EMBEDDED_MIN_LENGTH),
                pc.match_substring_regex(uniq, r"^[0-9A-Za-z]+$"),
            ),
        )
        sets.append((name, uniq, long))
    return sets


def _direct_findings(
    name: str, text: pa.Array, sets: list[tuple[str, pa.Array, pa.Array]]
) -> list[Finding]:
    import pyarrow.compute as pc

    found = []
    trimmed = pc.utf8_trim_whitespace(text)
    runs = [_tokens(text, r"[^0-9A-Za-z]+"), _tokens(text, r"[^0-9Xx]+")]
    for src, uniq, long in sets:
        hit_rows = np.zeros(len(text), dtype=bool)
        exact = pc.fill_null(pc.is_in(trimmed, value_set=uniq), False).to_numpy(
            zero_copy_only=False
        )
        hit_rows |= exact
        example = pc.filter(trimmed, pa.array(exact))[0].as_py() if exact.any() else None
        if len(long):
            for tok, par in runs:
                inside = pc.fill_null(pc.is_in(tok, value_set=long), False).to_numpy(
                    zero_copy_only=False
                )
                if inside.any():
                    hit_rows[par[inside]] = True
                    example = example or tok[int(np.flatnonzero(inside)[0])].as_py()
        n = int(hit_rows.sum())
        if n:
            found.append(
                Finding(
                    name, "direct-value", n, redact(example or ""), f"value of input column {src!r}"
                )
            )
    return found


def scan(
    table: pa.Table,
    *,
    classification: Mapping[str, str],
    direct_values: Mapping[str, pa.Array | pa.ChunkedArray] | None = None,
) -> list[Finding]:
    """Every leak found in ``table``; empty means the gate is passed.

    ``classification`` maps each output column to its PII class (``direct``,
    ``quasi``, ``sensitive``, ``none``, or ``pseudonym`` for keyed pseudonym
    columns, which must all look like 32 lowercase hex chars and are then
    not pattern-scanned, since random hex holds digit runs).
    ``direct_values`` maps each direct-identifier column of the inputs to
    its values (input column name -> array).
    """
    import pyarrow.compute as pc

    findings: list[Finding] = []
    sets = _direct_sets(direct_values or {})
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
        text = _as_text(table.column(name))
        if text is None:
            continue
        if cls == "pseudonym":
            bad = pc.invert(pc.fill_null(pc.match_substring_regex(text, PSEUDONYM_SHAPE), True))
            n = int(pc.sum(bad).as_py() or 0)
            if n:
                ex = pc.filter(text, bad)[0].as_py()
                findings.append(
                    Finding(name, "pseudonym-format", n, redact(ex), "not 32 hex chars")
                )
        else:
            findings.extend(_pattern_findings(name, text))
        findings.extend(_direct_findings(name, text, sets))
    return findings
