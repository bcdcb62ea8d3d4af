"""Identifier patterns for the leak gate: normalization, check digits, numbers.

Everything works on whole Arrow arrays (``pyarrow.compute`` and numpy); the
functions return one bool per input value.

Normalization, applied before any pattern is looked for:

- NFKC, so full-width digits and letters (``１３８``, ``Ｘ``) and the
  ideographic space become ASCII; then upper case (``x`` check chars,
  lower-case credit codes);
- a second view with separators removed between letters and digits
  (spaces, tabs, ASCII and Unicode dashes, underscores, tildes), so
  ``138 1234 5678`` and ``110105-19491231-002X`` are found.  Both views are
  scanned, since joining two separate numbers can also hide one;
- numbers are read as their integer digits: a float column holding
  ``3.3010219660601075e+17`` is the digits ``330102196606010752``, and
  scientific notation written in text (``3.30102196606011E+17``) is read
  back the same way.

What counts as an identifier:

Check characters are ``schemas.identifiers``' (the one implementation).

- ID number, 18 chars (GB 11643): 17 digits and a valid check char, in text.
  As a number (where the check char is lost to float precision or to an
  ``X``): 18 digits whose first two are a province code and whose digits
  7-14 are a real date between 1900 and 2099;
- ID number, 15 digits (first generation, no check char): a province code
  and a real ``YYMMDD`` birth date in digits 7-12;
- mobile: ``1[3-9]`` + 9 digits, optionally after ``86`` or ``0086``, as a
  run of exactly that many digits;
- credit code (GB 32100): 18 chars of its alphabet, digits in places 3-8,
  a valid check char, and not also a valid ID number;
- e-mail address.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from schemas import identifiers

CREDIT_SHAPE = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
SCIENTIFIC = r"^[0-9](\.[0-9]+)?E\+?[0-9]{1,2}$"
# GB/T 2260 provinces (incl. Taiwan 71, Hong Kong 81, Macao 82)
PROVINCES = np.zeros(100, dtype=bool)
PROVINCES[sorted(identifiers.PROVINCE_CODES)] = True
SEPARATORS = r"([0-9A-Z])[\s\-‐‑‒–—―_~]+([0-9A-Z])"

_DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _np(ok: pa.Array) -> np.ndarray:
    # a null is no identifier
    import pyarrow.compute as pc

    return np.asarray(pc.fill_null(ok, False).to_numpy(zero_copy_only=False), dtype=bool)


def idcard_valid(values: pa.Array | Sequence[str | None]) -> np.ndarray:
    """Per value: 18 chars, 17 digits and a valid GB 11643 check char (X or x);
    the birth date is not looked at (any valid check char in text is a leak)."""
    return _np(identifiers.id_number_checks(values, birth_date=False))


def credit_code_valid(values: pa.Array | Sequence[str | None]) -> np.ndarray:
    """Per value: a GB 32100 credit code (alphabet, digits in places 3-8, check char)."""
    return _np(identifiers.credit_code_checks(values))


def _real_date(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    m = np.clip(month, 0, 12)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days = np.where((m == 2) & ~leap, 28, _DAYS[m])
    return (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)


def id15_valid(values: pa.Array) -> np.ndarray:
    """Per value: 15 digits, a province code and a real YYMMDD birth date."""
    return _np(identifiers.id15_checks(values))


def numeric_identifiers(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per number (float or int): does its integer part look like an ID or a mobile?"""
    v = np.asarray(values)
    if v.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(v) & (np.abs(v) < 9e18)
        v = np.where(finite, np.floor(np.abs(np.where(finite, v, 0.0))), 0).astype(np.int64)
    elif v.dtype.kind == "u":
        v = np.minimum(v, np.uint64(9 * 10**18)).astype(np.int64)
    else:
        v = np.abs(v.astype(np.int64))
    mobile = (v >= 13_000_000_000) & (v < 20_000_000_000)
    mobile |= (v >= 8_613_000_000_000) & (v < 8_620_000_000_000)
    id18 = (v >= 10**17) & (v < 10**18)
    ymd = (v // 10**4) % 10**8
    id18 &= PROVINCES[np.clip(v // 10**16, 0, 99)]
    id18 &= (ymd // 10**4 >= 1900) & (ymd // 10**4 <= 2099)
    id18 &= _real_date(ymd // 10**4, (ymd // 100) % 100, ymd % 100)
    id15 = (v >= 10**14) & (v < 10**15)
    yymmdd = (v // 10**3) % 10**6
    id15 &= PROVINCES[np.clip(v // 10**13, 0, 99)]
    id15 &= _real_date(1900 + yymmdd // 10**4, (yymmdd // 100) % 100, yymmdd % 100)
    return {"id-number": id18 | id15, "mobile": mobile}


def normalize(text: pa.Array) -> pa.Array:
    """NFKC (full width -> ASCII) and upper case."""
    import pyarrow.compute as pc

    return pc.utf8_upper(pc.utf8_normalize(text, "NFKC"))


def collapse_separators(text: pa.Array) -> pa.Array:
    """Remove spaces and dashes between letters and digits (``138 1234-5678``)."""
    import pyarrow.compute as pc

    # RE2 has no look-behind: a match eats the digit after the separator, so
    # single-character groups ("1 3 8") need a second pass
    out = pc.replace_substring_regex(text, SEPARATORS, r"\1\2")
    return pc.replace_substring_regex(out, SEPARATORS, r"\1\2")


def _tokens(text: pa.Array, separators: str) -> tuple[pa.Array, np.ndarray]:
    """Runs between ``separators`` matches, with the row each came from."""
    import pyarrow.compute as pc

    parts = pc.split_pattern_regex(text, separators)
    return pc.list_flatten(parts), pc.list_parent_indices(parts).to_numpy(zero_copy_only=False)


def _rows(n: int, parents: np.ndarray, hit: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[parents[hit]] = True
    return out


def pattern_rows(text: pa.Array) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Per kind: (rows holding it, a few of the values found) in normalized ``text``."""
    import pyarrow.compute as pc

    n = len(text)
    found: dict[str, tuple[np.ndarray, list[str]]] = {}

    def add(kind: str, rows: np.ndarray, tokens: pa.Array, hit: np.ndarray) -> None:
        if not hit.any():
            return
        prev, ex = found.get(kind, (np.zeros(n, dtype=bool), []))
        ex = ex + [tokens[int(i)].as_py() for i in np.flatnonzero(hit)[:1]]
        found[kind] = (prev | rows, ex)

    tok, par = _tokens(text, r"[^0-9X]+")
    tok = pc.utf8_ltrim(tok, "X")  # an ID never starts with X
    hit = idcard_valid(tok) | id15_valid(tok)
    add("id-number", _rows(n, par, hit), tok, hit)
    dig, dpar = _tokens(text, r"[^0-9]+")
    length = pc.utf8_length(dig)
    dig = pc.if_else(
        pc.and_(pc.equal(length, 13), pc.starts_with(dig, "86")),
        pc.utf8_slice_codeunits(dig, 2),
        pc.if_else(
            pc.and_(pc.equal(length, 15), pc.starts_with(dig, "0086")),
            pc.utf8_slice_codeunits(dig, 4),
            dig,
        ),
    )
    hit = pc.fill_null(pc.match_substring_regex(dig, r"^1[3-9][0-9]{9}$"), False)
    hit = hit.to_numpy(zero_copy_only=False)
    add("mobile", _rows(n, dpar, hit), dig, hit)
    up, upar = _tokens(text, r"[^0-9A-Z]+")
    shaped = pc.fill_null(pc.match_substring_regex(up, CREDIT_SHAPE), False)
    hit = shaped.to_numpy(zero_copy_only=False) & credit_code_valid(up) & ~idcard_valid(up)
    add("credit-code", _rows(n, upar, hit), up, hit)
    sci, spar = _tokens(text, r"[^0-9.E+]+")
    is_sci = pc.fill_null(pc.match_substring_regex(sci, SCIENTIFIC), False)
    if pc.any(is_sci).as_py():
        idx = np.flatnonzero(is_sci.to_numpy(zero_copy_only=False))
        nums = pc.cast(pc.take(sci, pa.array(idx)), pa.float64()).to_numpy(zero_copy_only=False)
        for kind, mask in numeric_identifiers(nums).items():
            hit = np.zeros(len(sci), dtype=bool)
            hit[idx[mask]] = True
            add(kind, _rows(n, spar, hit), sci, hit)
    mail = pc.fill_null(pc.match_substring_regex(text, EMAIL, ignore_case=True), False)
    if pc.any(mail).as_py():
        rows = mail.to_numpy(zero_copy_only=False)
        import re

        first = pc.filter(text, mail)[0].as_py()
        m = re.search(EMAIL, first, re.IGNORECASE)
        found["email"] = (rows, [m.group(0) if m else first])
    return found
