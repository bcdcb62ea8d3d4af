"""Check digits of citizen ID numbers (GB 11643) and credit codes (GB 32100): the one
implementation, vectorized over Arrow arrays, with scalar wrappers for single values.

The quality checks (``onesource.quality.domain``), the leak gate
(``onesource.anonymize.leakpatterns``) and the catalog's own fields all call these.

Null, empty and whitespace, the same everywhere:

- the array functions return a ``pa.BooleanArray`` with **null where the input is
  null** (no value: nothing to check).  Each caller says what a missing value means
  to it: quality counts it as valid (``required`` catches missing values), the leak
  gate as no identifier;
- every non-null string is checked **as given**: ``""``, whitespace-only and padded
  values (``" 110105194912310021"``) are invalid, because a padded key does not join
  and no department's system writes one.  The only leniency is a lower-case ``x``
  check character of an ID number, which data entry produces and GB 11643 readers
  accept;
- the scalar wrappers take ``str | None`` and answer ``False`` for ``None``.

The rules are written once, over a small set of column operations (``_Ops``): an
Arrow backend runs them over whole arrays (``pyarrow.compute``, no Python loop over
values), a plain-Python backend over one value.  The scalar backend exists because
the catalog checks department credit codes while Airflow parses DAGs, and the first
``pyarrow.compute`` call with a Python scalar imports pandas (half a second).

python-stdnum (``stdnum.cn.ric``, ``stdnum.cn.uscc``) is the test oracle.  Where the
rules differ on purpose: stdnum strips spaces and dashes first (we do not, above);
``stdnum.cn.ric`` also looks the division up in its own table (callers pass the
catalog's divisions instead); ``stdnum.cn.uscc`` wants digits in places 1-2, which
GB 32100 allows to be letters of its alphabet (``Y``: other registration authority).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB/T 2260 province codes (incl. Taiwan 71, Hong Kong 81, Macao 82)
PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_ID_CHECK_CODES = tuple(ord(c) for c in ID_CHECK)
_CREDIT_VALUES = tuple(CREDIT_ALPHABET.find(chr(b)) for b in range(256))  # -1: not in it


def _array(values: Any) -> pa.Array:
    """A plain ``string`` array from an Arrow array, chunked array or Python sequence."""
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    elif not isinstance(values, pa.Array):
        values = pa.array(list(values), pa.string())
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return values


class _Ops:
    """Column operations of the rules below, on plain Python ints and bools."""

    def __init__(self) -> None:
        op: Any = operator
        self.add, self.mul, self.sub, self.mod = op.add, op.mul, op.sub, op.mod
        self.eq, self.ne, self.ge, self.le, self.not_ = op.eq, op.ne, op.ge, op.le, op.not_

    def all(self, *conditions: Any) -> Any:
        return all(conditions)

    def any(self, *conditions: Any) -> Any:
        return any(conditions)

    def lookup(self, table: tuple[int, ...], index: Any) -> Any:
        return table[index]

    def where(self, condition: Any, yes: Any, no: Any) -> Any:
        return yes if condition else no

    def isin(self, value: Any, values: frozenset[int]) -> Any:
        return value in values


class _ArrowOps(_Ops):
    """The same operations over whole Arrow arrays."""

    def __init__(self) -> None:
        import pyarrow.compute as pc

        self.pc: Any = pc
        self.add, self.mul, self.sub, self.mod = pc.add, pc.multiply, pc.subtract, pc.remainder
        self.eq, self.ne, self.not_ = pc.equal, pc.not_equal, pc.invert
        self.ge, self.le = pc.greater_equal, pc.less_equal

    def all(self, *conditions: Any) -> Any:
        out = conditions[0]
        for c in conditions[1:]:
            out = self.pc.and_(out, c)
        return out

    def any(self, *conditions: Any) -> Any:
        out = conditions[0]
        for c in conditions[1:]:
            out = self.pc.or_(out, c)
        return out

    def lookup(self, table: tuple[int, ...], index: Any) -> Any:
        import pyarrow as pa

        return self.pc.take(pa.array(table, pa.int32()), index)

    def where(self, condition: Any, yes: Any, no: Any) -> Any:
        return self.pc.if_else(condition, yes, no)

    def isin(self, value: Any, values: frozenset[int]) -> Any:
        import pyarrow as pa

        return self.pc.is_in(value, value_set=pa.array(sorted(values), pa.int32()))


class _Chars:
    """Values of exactly ``width`` bytes as columns of byte codes: ``at(i)`` is every
    value's i-th byte (int32), gathered with one ``take`` (no Python loop over values)."""

    def __init__(self, values: pa.Array, width: int) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        fixed = values.cast(pa.binary()).cast(pa.binary(width))
        self._bytes = pa.Array.from_buffers(
            pa.uint8(), len(fixed) * width, [None, fixed.buffers()[1]], offset=fixed.offset * width
        )
        # where each value starts in ``_bytes``: 0, width, 2 * width, ...
        ends = pc.cumulative_sum(pc.binary_length(fixed).cast(pa.int64()))
        self._starts = pc.subtract(ends, width)
        self._at: dict[int, Any] = {}

    def at(self, i: int) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        if i not in self._at:
            self._at[i] = pc.take(self._bytes, pc.add(self._starts, i)).cast(pa.int32())
        return self._at[i]


class _OneValue:
    """One value's bytes, read like ``_Chars``."""

    def __init__(self, value: bytes) -> None:
        self.value = value

    def at(self, i: int) -> int:
        return self.value[i]


Rule = Callable[[Any, _Ops], Any]


def _checked(values: Any, width: int, rule: Rule) -> pa.Array:
    """``rule`` over the values of ``width`` bytes only (the others are false, nulls
    stay null), so arrays of mostly other lengths cost little."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = _array(values)
    sized = pc.fill_null(pc.equal(pc.binary_length(arr), width), False)
    subset = pc.filter(arr, sized)
    ok = rule(_Chars(subset, width), _ArrowOps()) if len(subset) else pa.array([], pa.bool_())
    out = pc.replace_with_mask(pc.and_(sized, False), sized, pc.fill_null(ok, False))
    return pc.if_else(arr.is_null(), pa.scalar(None, pa.bool_()), out)


def _one(value: str | None, width: int, rule: Rule) -> bool:
    if value is None:
        return False
    raw = value.encode()
    return len(raw) == width and bool(rule(_OneValue(raw), _Ops()))


def _digit(chars: Any, ops: _Ops, i: int) -> Any:
    return ops.sub(chars.at(i), 48)


def _digits(chars: Any, ops: _Ops, start: int, stop: int) -> Any:
    """True where bytes ``start:stop`` are all ASCII digits."""
    return ops.all(
        *(ops.all(ops.ge(chars.at(i), 48), ops.le(chars.at(i), 57)) for i in range(start, stop))
    )


def _number(chars: Any, ops: _Ops, start: int, stop: int) -> Any:
    """The decimal number written at bytes ``start:stop`` (digits checked elsewhere)."""
    out = _digit(chars, ops, start)
    for i in range(start + 1, stop):
        out = ops.add(ops.mul(out, 10), _digit(chars, ops, i))
    return out


def _real_date(ops: _Ops, year: Any, month: Any, day: Any) -> Any:
    """True where (year, month, day) is a date of the Gregorian calendar."""
    leap = ops.all(
        ops.eq(ops.mod(year, 4), 0),
        ops.any(ops.ne(ops.mod(year, 100), 0), ops.eq(ops.mod(year, 400), 0)),
    )
    good_month = ops.all(ops.ge(month, 1), ops.le(month, 12))
    days = ops.lookup(_DAYS, ops.where(good_month, month, 0))
    days = ops.where(ops.all(ops.eq(month, 2), ops.not_(leap)), 28, days)
    return ops.all(good_month, ops.ge(day, 1), ops.le(day, days))


def _id_expected(chars: Any, ops: _Ops) -> Any:
    """The check character's byte code each 17-digit body asks for (ISO 7064 MOD 11-2)."""
    total = ops.mul(_digit(chars, ops, 0), ID_WEIGHTS[0])
    for i in range(1, 17):
        total = ops.add(total, ops.mul(_digit(chars, ops, i), ID_WEIGHTS[i]))
    # non-digits can make the sum negative: the double mod keeps the index in 0..10
    return ops.lookup(_ID_CHECK_CODES, ops.mod(ops.add(ops.mod(total, 11), 11), 11))


def _id_rule(
    birth_date: bool, min_year: int, max_year: int | None, divisions: frozenset[int] | None
) -> Rule:
    def rule(chars: Any, ops: _Ops) -> Any:
        last = chars.at(17)
        last = ops.where(ops.eq(last, ord("x")), ord("X"), last)
        ok = ops.all(_digits(chars, ops, 0, 17), ops.eq(_id_expected(chars, ops), last))
        if birth_date:
            year = _number(chars, ops, 6, 10)
            month, day = _number(chars, ops, 10, 12), _number(chars, ops, 12, 14)
            ok = ops.all(ok, _real_date(ops, year, month, day), ops.ge(year, min_year))
            if max_year is not None:
                ok = ops.all(ok, ops.le(year, max_year))
        if divisions is not None:
            ok = ops.all(ok, ops.isin(_number(chars, ops, 0, 6), divisions))
        return ok

    return rule


def _id15_rule(chars: Any, ops: _Ops) -> Any:
    year = ops.add(_number(chars, ops, 6, 8), 1900)
    return ops.all(
        _digits(chars, ops, 0, 15),
        ops.isin(_number(chars, ops, 0, 2), PROVINCE_CODES),
        _real_date(ops, year, _number(chars, ops, 8, 10), _number(chars, ops, 10, 12)),
    )


def _credit_value(chars: Any, ops: _Ops, i: int) -> Any:
    """The i-th character's GB 32100 value (0..30), -1 outside the alphabet."""
    return ops.lookup(_CREDIT_VALUES, chars.at(i))


def _credit_expected(chars: Any, ops: _Ops) -> tuple[Any, Any]:
    """(places 1-17 all in the alphabet, the check value 0..30 they ask for)."""
    values = [_credit_value(chars, ops, i) for i in range(17)]
    total = ops.mul(values[0], CREDIT_WEIGHTS[0])
    for v, w in zip(values[1:], CREDIT_WEIGHTS[1:], strict=True):
        total = ops.add(total, ops.mul(v, w))
    inside = ops.all(*(ops.ge(v, 0) for v in values))
    return inside, ops.mod(ops.sub(31, ops.mod(total, 31)), 31)


def _credit_rule(chars: Any, ops: _Ops) -> Any:
    inside, expected = _credit_expected(chars, ops)
    last = _credit_value(chars, ops, 17)
    return ops.all(inside, _digits(chars, ops, 2, 8), ops.eq(last, expected))


def id_number_checks(
    values: Any,
    *,
    birth_date: bool = True,
    min_year: int | None = None,
    max_year: int | None = None,
    divisions: Iterable[str] | None = None,
) -> pa.Array:
    """GB 11643 over an array: 17 digits and the ISO 7064 MOD 11-2 check character
    (``X`` or ``x``); with ``birth_date`` a real birth date in places 7-14 (years
    ``min_year``..``max_year`` when given); with ``divisions`` places 1-6 must be one of
    them.  Null in, null out (see the module docstring)."""
    known = None
    if divisions is not None:
        known = frozenset(int(d) for d in divisions if len(d) == 6 and d.isdigit())
    return _checked(values, 18, _id_rule(birth_date, min_year or 1, max_year, known))


def id15_checks(values: Any) -> pa.Array:
    """First-generation 15-digit ID numbers (no check character): 15 digits, a province
    code in places 1-2 and a real ``YYMMDD`` birth date (19YY) in places 7-12."""
    return _checked(values, 15, _id15_rule)


def credit_code_checks(values: Any) -> pa.Array:
    """GB 32100 over an array: 18 characters of ``0-9A-HJ-NPQRTUWXY`` (upper case), digits
    in places 3-8 (the division), and the check character ``31 - sum mod 31``.
    Null in, null out (see the module docstring)."""
    return _checked(values, 18, _credit_rule)


def id_number_valid(value: str | None) -> bool:
    """Shape, birth date and check character of an 18-character ID number."""
    return _one(value, 18, _id_rule(True, 1, None, None))


def credit_code_valid(value: str | None) -> bool:
    """Shape and check character of an 18-character unified social credit code."""
    return _one(value, 18, _credit_rule)


def id_check_char(first17: str) -> str:
    """The check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"an ID number body is 17 digits, not {first17!r}")
    return chr(_id_expected(_OneValue(first17.encode()), _Ops()))


def credit_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a credit code."""
    if len(first17) != 17 or any(c not in CREDIT_ALPHABET for c in first17):
        raise ValueError(f"a credit code body is 17 characters of {CREDIT_ALPHABET}")
    _, check = _credit_expected(_OneValue(first17.encode()), _Ops())
    return CREDIT_ALPHABET[check]


def mobile_valid(value: str) -> bool:
    return bool(MOBILE_RE.match(value))
