"""Vectorized domain validators: ID numbers, credit codes, mobiles, divisions.

Each takes an Arrow string array and returns a numpy bool array, True where
the value is valid.  Nulls count as valid: ``required`` checks catch them.
ID numbers and credit codes are checked by ``schemas.identifiers``, the one
implementation (its docstring says how empty and padded values are treated).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from schemas import identifiers


def _np(ok: pa.Array) -> np.ndarray:
    # nulls count as valid here: ``required`` checks catch missing values
    import pyarrow.compute as pc

    return np.asarray(pc.fill_null(ok, True).to_numpy(zero_copy_only=False), dtype=bool)


def id_number_valid(
    values: pa.Array | pa.ChunkedArray,
    divisions: Iterable[str] | None = None,
    *,
    max_year: int | None = None,
) -> np.ndarray:
    """GB 11643: 17 digits + check char, a real birth date (1880 to this year),
    optionally a known division (``schemas.identifiers.id_number_checks``)."""
    import datetime as dt

    return _np(
        identifiers.id_number_checks(
            values,
            min_year=1880,
            max_year=max_year or dt.date.today().year,
            divisions=divisions,
        )
    )


def credit_code_valid(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """GB 32100: alphabet, six-digit division in positions 3-8, check character."""
    return _np(identifiers.credit_code_checks(values))


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
