"""Vectorized domain validators: ID numbers, credit codes, mobiles, divisions.

Each takes an Arrow string array and returns a numpy bool array, True where
the value is valid.  Nulls count as valid: ``required`` checks catch them.
Scalar references live in ``schemas.identifiers``; tests hold them equal.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from schemas.identifiers import CREDIT_ALPHABET, CREDIT_WEIGHTS, ID_CHECK, ID_WEIGHTS

_ID_W = np.array(ID_WEIGHTS, dtype=np.int64)
_ID_CHECK = np.frombuffer(ID_CHECK.encode(), dtype=np.uint8)
_CREDIT_W = np.array(CREDIT_WEIGHTS, dtype=np.int64)
_CREDIT_ALPHA = np.frombuffer(CREDIT_ALPHABET.encode(), dtype=np.uint8)
_CREDIT_VALUE = np.full(256, -1, dtype=np.int64)
_CREDIT_VALUE[_CREDIT_ALPHA] = np.arange(len(CREDIT_ALPHABET))
_DAYS = np.array([0] + [calendar.monthrange(2001, m)[1] for m in range(1, 13)], dtype=np.int64)


def _fixed_width(
    values: pa.Array | pa.ChunkedArray, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n x width byte matrix, shape-ok mask, null mask) without a Python loop."""
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_large_string(values.type) or pa.types.is_string_view(values.type):
        values = values.cast(pa.string())
    nulls = values.is_null().to_numpy(zero_copy_only=False)
    ok = pc.fill_null(pc.equal(pc.binary_length(values), width), False)
    filled = pc.if_else(ok, values, pa.scalar("0" * width))
    n = len(filled)
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8), np.zeros(0, bool), nulls
    offsets = np.frombuffer(filled.buffers()[1], dtype=np.int32)[
        filled.offset : filled.offset + n + 1
    ]
    data = np.frombuffer(filled.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(
        n, width
    )
    return data, ok.to_numpy(zero_copy_only=False), nulls


def id_number_valid(
    values: pa.Array | pa.ChunkedArray,
    divisions: Iterable[str] | None = None,
    *,
    max_year: int | None = None,
) -> np.ndarray:
    """GB 11643: 17 digits + check char, a real birth date, optionally a known division."""
    import datetime as dt

    data, ok, nulls = _fixed_width(values, 18)
    digits = data[:, :17].astype(np.int64) - 48
    ok &= ((digits >= 0) & (digits <= 9)).all(axis=1)
    last = data[:, 17].copy()
    last[last == ord("x")] = ord("X")
    ok &= _ID_CHECK[(digits * _ID_W).sum(axis=1) % 11] == last
    year = digits[:, 6] * 1000 + digits[:, 7] * 100 + digits[:, 8] * 10 + digits[:, 9]
    month = digits[:, 10] * 10 + digits[:, 11]
    day = digits[:, 12] * 10 + digits[:, 13]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    mdays = _DAYS[np.clip(month, 0, 12)] + ((month == 2) & leap)
    ok &= (
        (year >= 1880) & (year <= (max_year or dt.date.today().year)) & (month >= 1) & (month <= 12)
    )
    ok &= (day >= 1) & (day <= mdays)
    if divisions is not None:
        div = (digits[:, :6] * np.array([100000, 10000, 1000, 100, 10, 1])).sum(axis=1)
        known = np.array(
            sorted({int(d) for d in divisions if d.isdigit() and len(d) == 6}), dtype=np.int64
        )
        ok &= np.isin(div, known)
    return ok | nulls


def credit_code_valid(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """GB 32100: alphabet, six-digit division in positions 3-8, check character."""
    data, ok, nulls = _fixed_width(values, 18)
    vals = _CREDIT_VALUE[data]
    ok &= (vals >= 0).all(axis=1)
    ok &= ((data[:, 2:8] >= 48) & (data[:, 2:8] <= 57)).all(axis=1)
    check = (31 - (np.where(vals[:, :17] < 0, 0, vals[:, :17]) * _CREDIT_W).sum(axis=1) % 31) % 31
    ok &= _CREDIT_ALPHA[check] == data[:, 17]
    return ok | nulls


def mobile_valid(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    import pyarrow.compute as pc

    good = pc.fill_null(pc.match_substring_regex(values, r"^1[3-9][0-9]{9}$"), True)
    return np.asarray(good.to_numpy(zero_copy_only=False), dtype=bool)


def division_valid(values: pa.Array | pa.ChunkedArray, divisions: Iterable[str]) -> np.ndarray:
    import pyarrow.compute as pc

    good = pc.fill_null(
        pc.is_in(values, value_set=pa.array(sorted(set(divisions)), pa.string())), True
    )
    return np.asarray(good.to_numpy(zero_copy_only=False), dtype=bool)
