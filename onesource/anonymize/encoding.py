"""Integer encodings of quasi-identifiers per hierarchy level, and grouping.

Each column is dictionary-encoded once; the hierarchy is applied to its few
distinct values only, giving per level a small map ``distinct code -> level
code`` and the level's labels.  Everything after that is numpy on integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from onesource.anonymize.hierarchy import Hierarchy, HierarchyError

# dense bincount grouping up to this many possible keys (16 M * 8 bytes)
_DENSE_LIMIT = 1 << 24
_KEY_LIMIT = 1 << 62


@dataclass(frozen=True)
class EncodedColumn:
    """One column's row codes and its per-level maps and labels."""

    name: str
    row_codes: np.ndarray  # int32 per row, index into the distinct values
    maps: tuple[np.ndarray, ...]  # per level: distinct code -> level code (int32)
    labels: tuple[pa.Array, ...]  # per level: level code -> label
    counts: np.ndarray  # rows per distinct value (int64)

    def cardinality(self, level: int) -> int:
        return len(self.labels[level])

    def rollup(self, src: int, dst: int) -> np.ndarray:
        """Map level-``src`` codes to level-``dst`` codes (``src <= dst``)."""
        return _rollup_map(self, src, dst)


def _rollup_map(col: EncodedColumn, src: int, dst: int) -> np.ndarray:
    out = np.zeros(col.cardinality(src), dtype=np.int32)
    out[col.maps[src]] = col.maps[dst]
    return out


def encode_column(name: str, values: pa.Array | pa.ChunkedArray, h: Hierarchy) -> EncodedColumn:
    """Dictionary-encode ``values`` and precompute every level of ``h``.

    Raises :class:`HierarchyError` when a level is not a function of the
    level below it (the lattice search and its pruning rely on that).
    """
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    enc = pc.dictionary_encode(values, null_encoding="encode")
    distinct = enc.dictionary
    row_codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    counts = np.bincount(row_codes, minlength=len(distinct)).astype(np.int64)
    maps: list[np.ndarray] = []
    labels: list[pa.Array] = []
    for level in range(h.levels):
        lab = h.apply(distinct, level)
        lab_enc = pc.dictionary_encode(lab, null_encoding="encode")
        maps.append(lab_enc.indices.to_numpy(zero_copy_only=False).astype(np.int32))
        labels.append(lab_enc.dictionary)
    col = EncodedColumn(name, row_codes, tuple(maps), tuple(labels), counts)
    for level in range(1, h.levels):
        if not np.array_equal(_rollup_map(col, level - 1, level)[maps[level - 1]], maps[level]):
            raise HierarchyError(
                f"hierarchy of column {name!r}: level {level} is not a function of level {level - 1}",
                hint="two values with the same label must get the same coarser label; "
                "align band widths and top/bottom codes",
            )
    return col


def encode_plain(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, int, int]:
    """Row codes (int32), cardinality and the code of null (-1 if none) of a
    column used as-is (sensitive values)."""
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    enc = pc.dictionary_encode(values, null_encoding="encode")
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    nulls = np.flatnonzero(enc.dictionary.is_null().to_numpy(zero_copy_only=False))
    return codes, max(len(enc.dictionary), 1), int(nulls[0]) if len(nulls) else -1


def combine(cols: list[np.ndarray], cards: list[int]) -> tuple[np.ndarray, int, bool]:
    """Mixed-radix int64 key of several code columns.

    Returns (key, number of possible keys, exact) where ``exact`` is False
    when the key had to be re-factorized to stay within int64 (then it
    cannot be decoded back by division).
    """
    n = len(cols[0]) if cols else 0
    key = np.zeros(n, dtype=np.int64)
    space, exact = 1, True
    for c, card in zip(cols, cards, strict=True):
        card = max(int(card), 1)
        if space * card >= _KEY_LIMIT:
            uniq, inv = np.unique(key, return_inverse=True)
            key, space, exact = inv.astype(np.int64), len(uniq), False
        key = key * card + c
        space *= card
    return key, space, exact


def group(
    key: np.ndarray, weights: np.ndarray | None, space: int, *, inverse: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Sum ``weights`` (1 per row when None) per distinct key.

    Returns (unique keys sorted, sums as int64, index of one member row per
    group, group index of every row when ``inverse``).  Dense bincount when
    the key space is small, sorting otherwise.
    """
    if space <= _DENSE_LIMIT and space <= 8 * len(key) + 65536:
        sums = np.bincount(key, weights=weights, minlength=space)
        uniq = np.flatnonzero(sums)
        first = np.full(space, -1, dtype=np.int64)
        # any member works as representative: later writes win
        first[key] = np.arange(len(key), dtype=np.int64)
        inv = None
        if inverse:
            pos = np.zeros(space, dtype=np.int64)
            pos[uniq] = np.arange(len(uniq), dtype=np.int64)
            inv = pos[key]
        return uniq.astype(np.int64), np.rint(sums[uniq]).astype(np.int64), first[uniq], inv
    uniq, idx, inv2 = np.unique(key, return_index=True, return_inverse=True)
    inv2 = inv2.ravel()
    sums = np.bincount(inv2, weights=weights, minlength=len(uniq))
    return uniq, np.rint(sums).astype(np.int64), idx.astype(np.int64), inv2 if inverse else None
