"""Generalization hierarchies: vectorized level functions over Arrow arrays.

A hierarchy turns a column into ever coarser labels.  ``levels`` counts every
level, level 0 is the original value (rendered as a string) and the last
level is the top.  Every level must be a function of the one below it (a
value's level-``l+1`` label depends only on its level-``l`` label); the
k-anonymity search checks that and refuses a hierarchy that is not.

All outputs are ``pa.string()`` arrays.  Nulls stay null below the top level
and become ``"*"`` at the top (except in :class:`TopBottomCoding`, which has
no top level of its own).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pyarrow as pa

from schemas.errors import ConfigError

STAR = "*"


class HierarchyError(ConfigError):
    """A hierarchy is misconfigured or a level is out of range."""

    code = "hierarchy-invalid"


@runtime_checkable
class Hierarchy(Protocol):
    """What the k-anonymity search needs from a hierarchy."""

    @property
    def levels(self) -> int:
        """Number of levels including level 0 (original) and the top."""
        ...

    def apply(self, values: pa.Array, level: int) -> pa.Array:
        """Labels of ``values`` at ``level`` as a string array."""
        ...


def _as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _check_level(h: Hierarchy, level: int) -> None:
    if not 0 <= level < h.levels:
        raise HierarchyError(
            f"level {level} is out of range for {type(h).__name__}",
            hint=f"valid levels are 0..{h.levels - 1}",
        )


def _to_string(values: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    if pa.types.is_string(values.type):
        return values
    if pa.types.is_large_string(values.type) or pa.types.is_dictionary(values.type):
        return values.cast(pa.string())
    if pa.types.is_timestamp(values.type):
        return pc.strftime(values, format="%Y-%m-%dT%H:%M:%S")
    return pc.cast(values, pa.string())


def _top(values: pa.Array) -> pa.Array:
    return pa.array([STAR] * len(values), pa.string())


@dataclass(frozen=True)
class Flat:
    """Two levels: the value itself, then ``*`` (e.g. sex)."""

    @property
    def levels(self) -> int:
        return 2

    def apply(self, values: pa.Array, level: int) -> pa.Array:
        _check_level(self, level)
        values = _as_array(values)
        return _to_string(values) if level == 0 else _top(values)


@dataclass(frozen=True)
class NumericBands:
    """Numbers -> bands of growing width -> ``*``.

    ``widths=(5, 10, 20)`` gives levels: exact, 5-wide, 10-wide, 20-wide, ``*``.
    Integer bands are labelled ``"30-34"``, float bands ``"[30,35)"``.  Bands
    start at ``origin``.  ``bottom``/``top`` apply bottom/top coding at every
    level from 1 on (``<18``, ``>=90``) so the thin tails never form their
    own small bands; set widths that are multiples of each other so each
    level is a function of the one below.
    """

    widths: tuple[float, ...] = (5, 10, 20)
    origin: float = 0
    bottom: float | None = None
    top: float | None = None

    def __post_init__(self) -> None:
        if any(w <= 0 for w in self.widths):
            raise HierarchyError("band widths must be positive", hint=f"got {self.widths}")

    @property
    def levels(self) -> int:
        return len(self.widths) + 2

    def apply(self, values: pa.Array, level: int) -> pa.Array:
        import numpy as np
        import pyarrow.compute as pc

        _check_level(self, level)
        values = _as_array(values)
        if level == 0:
            return _to_string(values)
        if level == self.levels - 1:
            return _top(values)
        is_int = pa.types.is_integer(values.type)
        nums = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
        width = self.widths[level - 1]
        lo = np.floor((nums - self.origin) / width) * width + self.origin
        labels = pa.array(_band_labels(lo, width, is_int), pa.string())
        valid = pc.is_valid(values)
        labels = pc.if_else(valid, labels, pa.scalar(None, pa.string()))
        return _clamp(values, labels, self.bottom, self.top)


def _band_labels(lo: object, width: float, is_int: bool) -> list[str | None]:
    import numpy as np

    arr = np.asarray(lo)
    # few distinct bands: format each once
    uniq, inv = np.unique(arr, return_inverse=True)
    text: list[str | None] = []
    for b in uniq:
        if np.isnan(b):
            text.append(None)
        elif is_int:
            text.append(f"{int(b)}-{int(b + width - 1)}")
        else:
            text.append(f"[{_num(b)},{_num(b + width)})")
    return [text[i] for i in inv.tolist()]


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _clamp(values: pa.Array, labels: pa.Array, bottom: float | None, top: float | None) -> pa.Array:
    import pyarrow.compute as pc

    nums = values.cast(pa.float64())
    if top is not None:
        labels = pc.if_else(pc.greater_equal(nums, top), f">={_num(top)}", labels)
    if bottom is not None:
        labels = pc.if_else(pc.less(nums, bottom), f"<{_num(bottom)}", labels)
    return labels


@dataclass(frozen=True)
class TopBottomCoding:
    """Levels: original, then values outside [bottom, top) clamped to labels.

    Level 1 keeps in-range values as they are and writes ``"<18"`` /
    ``">=90"`` for the tails; level 2 is ``*``.
    """

    bottom: float | None = None
    top: float | None = None

    def __post_init__(self) -> None:
        if self.bottom is None and self.top is None:
            raise HierarchyError("top/bottom coding needs a bottom or a top threshold")

    @property
    def levels(self) -> int:
        return 3

    def apply(self, values: pa.Array, level: int) -> pa.Array:
        _check_level(self, level)
        values = _as_array(values)
        if level == 2:
            return _top(values)
        text = _to_string(values)
        return text if level == 0 else _clamp(values, text, self.bottom, self.top)


def top_bottom_code(
    values: pa.Array | pa.ChunkedArray, *, bottom: float | None = None, top: float | None = None
) -> pa.Array:
    """Clamp a numeric column: below ``bottom`` -> ``"<bottom"``, from ``top`` -> ``">=top"``."""
    return TopBottomCoding(bottom=bottom, top=top).apply(_as_array(values), 1)


_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m", "%Y")


@dataclass(frozen=True)
class DateHierarchy:
    """Date or datetime -> day -> month -> year -> ``*``.

    Datetimes get one extra level 0 (the full timestamp) before the day.
    Strings are parsed as ISO dates.  Labels: ``2021-03-04``, ``2021-03``, ``2021``.
    """

    with_time: bool = False

    @property
    def levels(self) -> int:
        return 5 if self.with_time else 4

    def apply(self, values: pa.Array, level: int) -> pa.Array:
        import pyarrow.compute as pc

        _check_level(self, level)
        values = _as_array(values)
        if level == self.levels - 1:
            return _top(values)
        step = level - 1 if self.with_time else level
        if step < 0:
            return _to_string(values)
        ts = _as_timestamp(values)
        return pc.strftime(ts, format=_DATE_FORMATS[step])


def _as_timestamp(values: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    t = values.type
    if pa.types.is_timestamp(t):
        return values.cast(pa.timestamp("s", tz=None)) if t.tz else values
    if pa.types.is_date(t):
        return values.cast(pa.timestamp("s"))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pc.strptime(pc.utf8_slice_codeunits(values, 0, 10), format="%Y-%m-%d", unit="s")
    raise HierarchyError(f"cannot read {t} as a date", hint="use a date, timestamp or ISO string")


@dataclass(frozen=True)
class AgeBands:
    """Birth date -> exact age at ``reference`` -> age bands -> ``*``.

    Level 0 is the birth date; level 1 the age in whole years; then the
    bands of :class:`NumericBands` (with its bottom/top coding).
    """

    reference: dt.date
    bands: NumericBands = field(default_factory=NumericBands)

    @property
    def levels(self) -> int:
        return self.bands.levels + 1

    def apply(self, values: pa.Array, level: int) -> pa.Array:
        _check_level(self, level)
        values = _as_array(values)
        if level == 0:
            return _to_string(values)
        return self.bands.apply(age_in_years(values, self.reference), level - 1)


def age_in_years(birth: pa.Array | pa.ChunkedArray, reference: dt.date) -> pa.Array:
    """Whole years between each birth date and ``reference`` (int32, nulls kept)."""
    import numpy as np
    import pyarrow.compute as pc

    ts = _as_timestamp(_as_array(birth))
    y = pc.year(ts).to_numpy(zero_copy_only=False).astype(np.float64)
    m = pc.month(ts).to_numpy(zero_copy_only=False).astype(np.float64)
    d = pc.day(ts).to_numpy(zero_copy_only=False).astype(np.float64)
    before = (m > reference.month) | ((m == reference.month) & (d > reference.day))
    age = reference.year - y - before
    mask = ~np.isfinite(age)
    return pa.array(np.where(mask, 0, age).astype(np.int32), pa.int32(), mask=mask)


@dataclass(frozen=True)
class StringPrefix:
    """Codes cut to shorter prefixes: ``keep=(4, 2)`` on ``330102`` gives
    ``3301**``, ``33****``, then ``*``.

    Padding with ``*`` to the value's own length (``pad=True``, default)
    keeps a generalized code recognisable as a code of the same kind and
    sorting next to its children; ``pad=False`` truncates (``3301``).
    """

    keep: tuple[int, ...] = (4, 2)
    pad: bool = True

    def __post_init__(self) -> None:
        if list(self.keep) != sorted(self.keep, reverse=True) or any(n < 0 for n in self.keep):
            raise HierarchyError("prefix lengths must shrink", hint=f"got keep={self.keep}")

    @property
    def levels(self) -> int:
        return len(self.keep) + 2

    def apply(self, values: pa.Array, level: int) -> pa.Array:
        import pyarrow.compute as pc

        _check_level(self, level)
        values = _as_array(values)
        if level == self.levels - 1:
            return _top(values)
        text = _to_string(values)
        if level == 0:
            return text
        n = self.keep[level - 1]
        head = pc.utf8_slice_codeunits(text, 0, n)
        if not self.pad:
            return head
        tail = pc.replace_substring_regex(pc.utf8_slice_codeunits(text, n), ".", STAR)
        return pc.binary_join_element_wise(head, tail, "")


@dataclass(frozen=True)
class CodeListHierarchy:
    """A code list with parents: level ``l`` is the ancestor ``l`` steps up.

    ``parent`` maps child code -> parent code.  A value whose chain ends
    before level ``l`` becomes ``*``; values not in the code list are
    treated as roots (level 1 and up: ``*``), the safe direction.  Levels:
    the longest chain plus the top.
    """

    parent: Mapping[str, str]
    _chains: dict[str, list[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        chains: dict[str, list[str]] = {}
        codes = set(self.parent) | set(self.parent.values())
        for code in codes:
            chain, seen = [code], {code}
            while chain[-1] in self.parent:
                up = self.parent[chain[-1]]
                if up in seen:
                    raise HierarchyError(f"code list has a cycle through {up!r}")
                chain.append(up)
                seen.add(up)
            chains[code] = chain
        object.__setattr__(self, "_chains", chains)

    @property
    def levels(self) -> int:
        return max((len(c) for c in self._chains.values()), default=1) + 1

    def apply(self, values: pa.Array, level: int) -> pa.Array:
        import pyarrow.compute as pc

        _check_level(self, level)
        values = _as_array(values)
        text = _to_string(values)
        if level == 0:
            return text
        if level == self.levels - 1:
            return _top(values)
        codes = list(self._chains)
        targets = [c[level] if level < len(c) else STAR for c in self._chains.values()]
        idx = pc.index_in(text, value_set=pa.array(codes, pa.string()))
        out = pc.take(pa.array(targets, pa.string()), idx)
        return pc.if_else(pc.and_(pc.is_null(idx), pc.is_valid(text)), STAR, out)


def describe(h: Hierarchy, sample: Sequence[object]) -> list[list[str | None]]:
    """Every level's labels for a few sample values (for docs and reports)."""
    arr = pa.array(list(sample))
    return [h.apply(arr, lvl).to_pylist() for lvl in range(h.levels)]


def _num_band(w: float) -> str:
    return f"{_num(w)}-wide bands"


def level_label(h: Hierarchy, level: int) -> str:
    """A reader's name for ``level`` of ``h`` (``"5-year age bands"``, ``"month"``, ``"*"``)."""
    _check_level(h, level)
    if level == h.levels - 1 and not isinstance(h, TopBottomCoding):
        return "* (fully generalized)"
    if isinstance(h, AgeBands):
        if level == 0:
            return "birth date"
        if level == 1:
            return "age in years"
        return f"{_num(h.bands.widths[level - 2])}-year age bands"
    if isinstance(h, NumericBands):
        return "exact value" if level == 0 else _num_band(h.widths[level - 1])
    if isinstance(h, DateHierarchy):
        names = ("timestamp", "day", "month", "year") if h.with_time else ("day", "month", "year")
        return names[level]
    if isinstance(h, StringPrefix):
        return "full value" if level == 0 else f"first {h.keep[level - 1]} characters"
    if isinstance(h, CodeListHierarchy):
        return "code" if level == 0 else f"code list ancestor {level} up"
    if isinstance(h, TopBottomCoding):
        return ("exact value", "top/bottom coded", "* (fully generalized)")[level]
    if isinstance(h, Flat):
        return "value"
    return f"level {level}"
