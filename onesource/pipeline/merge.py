"""Merge an incremental batch into the previous version by primary key."""

from __future__ import annotations

import pyarrow as pa


def merge_incremental(previous: pa.Table, new: pa.Table, key: list[str]) -> pa.Table:
    """Rows of ``previous`` whose key is not in ``new``, then every row of ``new``.

    New rows win: an updated record replaces its old version.
    """
    import pyarrow.compute as pc

    if new.num_rows == 0:
        return previous
    new = new.select(previous.column_names).cast(previous.schema)
    if len(key) == 1:
        stale = pc.is_in(previous[key[0]], value_set=new[key[0]])
    else:
        joined = _compound(previous, key)
        stale = pc.is_in(joined, value_set=_compound(new, key))
    kept = previous.filter(pc.invert(pc.fill_null(stale, False)))
    return pa.concat_tables([kept, new]).combine_chunks()


def _compound(table: pa.Table, key: list[str]) -> pa.Array:
    import pyarrow.compute as pc

    parts = [pc.cast(table[k], pa.string()) for k in key]
    return pc.binary_join_element_wise(*[pc.fill_null(p, "\x00") for p in parts], "\x1f")
