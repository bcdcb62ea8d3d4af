"""Yes/no verification against the source, from an in-memory index per version.

On first use the key columns of the current version are read once into a
sorted numpy array of UTF-8 keys (a bisection finds a row in a few
microseconds); claimed columns are loaded the first time someone claims them
and kept as Arrow arrays.  Nothing else of the record is held, and nothing of
it is ever returned.  A new current version builds a new index; the old one
is dropped.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from onesource.exchange.errors import InvalidRequestError, UnknownError
from onesource.exchange.policy import key_fields
from schemas.catalog import Catalog
from schemas.resource import Resource

if TYPE_CHECKING:
    from onesource.store import Store

KEY_SEP = "\x1f"


def _as_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    import pyarrow.compute as pc

    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        col = pc.cast(col, pa.string())
    return col


def encode_key(values: list[str]) -> bytes:
    return KEY_SEP.join(values).encode()


@dataclass
class KeyIndex:
    """Sorted keys of one version of a resource, and the columns claimed so far."""

    resource: str
    version: int
    key: tuple[str, ...]
    sorted_keys: np.ndarray
    order: np.ndarray
    columns: dict[str, pa.Array] = field(default_factory=dict)

    def find(self, values: list[str]) -> int | None:
        """Row number of the record with this key, or None."""
        probe = encode_key(values)
        if len(probe) > self.sorted_keys.dtype.itemsize or not self.sorted_keys.size:
            return None
        # bisect over the array (~20 probes of numpy scalars, ~1 us) rather than
        # ndarray.searchsorted: numpy releases the GIL for the search, and on a busy server
        # the audit writer thread then takes it for up to a switch interval (5 ms) while
        # the event loop waits to get it back
        pos = bisect.bisect_left(self.sorted_keys, probe)
        if pos < self.sorted_keys.size and self.sorted_keys[pos] == probe:
            return int(self.order[pos])
        return None


def build_index(store: Store, resource: str, version: int, key: tuple[str, ...]) -> KeyIndex:
    """Read the key columns of a version and sort them."""
    import pyarrow.compute as pc

    table = store.read("resource", resource, version=version, columns=list(key))
    parts = [_as_text(table.column(k)) for k in key]
    joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, KEY_SEP)
    # a record with a missing key part cannot be identified: it is left out of the index
    rows = np.flatnonzero(pc.is_valid(joined).to_numpy(zero_copy_only=False))
    raw = pc.cast(pc.drop_null(joined), pa.binary()).to_numpy(zero_copy_only=False)
    keys = raw.astype("S") if raw.size else np.array([], dtype="S1")
    order = np.argsort(keys, kind="stable")
    return KeyIndex(resource, version, key, keys[order], rows[order].astype(np.int64))


class IndexNotReady(Exception):
    """An index or column would have to be read from the store (see ``ready_only``)."""


_ready_only: ContextVar[bool] = ContextVar("onesource_verify_ready_only", default=False)


@contextmanager
def ready_only() -> Iterator[None]:
    """Within this block ``IndexCache`` raises ``IndexNotReady`` instead of reading the store.

    The web app answers from memory on its event loop and takes the rare call that needs a
    read (the first one for a new version, ~1 s at 1e6 rows) to a worker thread instead.
    """
    token = _ready_only.set(True)
    try:
        yield
    finally:
        _ready_only.reset(token)


class IndexCache:
    """One ``KeyIndex`` per (resource, key fields), for the version asked for.

    ``after_build`` (if set) runs after each build, still under the lock: the web app
    uses it to take the long-lived heap out of the garbage collector's reach.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._indexes: dict[tuple[str, tuple[str, ...]], KeyIndex] = {}
        self._lock = threading.Lock()
        self.after_build: Callable[[], None] | None = None

    def index(self, resource: str, version: int, key: tuple[str, ...]) -> KeyIndex:
        slot = (resource, key)
        idx = self._indexes.get(slot)
        if idx is not None and idx.version == version:
            return idx
        if _ready_only.get():
            raise IndexNotReady(resource)
        with self._lock:  # build once even when many requests arrive together
            idx = self._indexes.get(slot)
            if idx is None or idx.version != version:
                self._indexes.pop(slot, None)  # free the old version first
                idx = build_index(self.store, resource, version, key)
                self._indexes[slot] = idx
                if self.after_build is not None:
                    self.after_build()
        return idx

    def column(self, idx: KeyIndex, name: str) -> pa.Array:
        col = idx.columns.get(name)
        if col is None:
            if _ready_only.get():
                raise IndexNotReady(idx.resource)
            with self._lock:
                col = idx.columns.get(name)
                if col is None:
                    table = self.store.read(
                        "resource", idx.resource, version=idx.version, columns=[name]
                    )
                    col = table.column(name).combine_chunks()
                    idx.columns[name] = col
        return col

    def clear(self) -> None:
        with self._lock:
            self._indexes.clear()


def same(value: Any, claim: str) -> bool:
    """Whether a stored value equals a claimed one (dates as ISO text, numbers numerically)."""
    if value is None:
        return False
    text = claim.strip()
    if isinstance(value, bool):
        return text.lower() in (("true", "1", "yes") if value else ("false", "0", "no"))
    if isinstance(value, int | float | Decimal):
        try:
            return Decimal(text) == Decimal(str(value))
        except InvalidOperation:
            return False
    if isinstance(value, datetime | date):
        return value.isoformat() == text
    return str(value).strip() == text


@dataclass(frozen=True)
class Target:
    """One resource to check: which of its fields form the key, which are claimed."""

    resource: Resource
    key: dict[str, str]  # field -> value
    claims: dict[str, tuple[str, str]]  # field -> (name in the answer, claimed value)


def plan(
    catalog: Catalog, resource: str | None, key: dict[str, str], claims: dict[str, str]
) -> list[Target]:
    """Resolve a request to the resources to check (by resource fields, or by element ids)."""
    if not claims:
        raise InvalidRequestError("claims is empty", hint='e.g. {"name": "张三"}')
    if not key:
        raise InvalidRequestError("key is empty", hint='e.g. {"id_number": "..."}')
    if resource is not None:
        res = catalog.resources.get(resource)
        if res is None:
            raise UnknownError(f"unknown resource {resource!r}", hint="GET /api/exchange/resources")
        unknown = [f for f in [*key, *claims] if f not in res.fields]
        if unknown:
            raise InvalidRequestError(
                f"{', '.join(map(repr, unknown))} not fields of {resource!r}",
                hint="fields: " + ", ".join(res.fields),
            )
        return [Target(res, dict(key), {f: (f, v) for f, v in claims.items()})]
    targets: dict[str, Target] = {}
    for element, value in claims.items():
        res = catalog.source_resource(element)
        if res is None:
            raise InvalidRequestError(
                f"element {element!r} has no source resource",
                hint="name a resource, or claim elements that have a source (catalog elements)",
            )
        fname = next(n for n, s in res.fields.items() if s.element == element)
        if res.name not in targets:
            mapped = {}
            for kel, kval in key.items():
                kf = next((n for n, s in res.fields.items() if s.element == kel), None)
                if kf is None:
                    raise InvalidRequestError(
                        f"source {res.name!r} of {element!r} has no field for key element {kel!r}",
                        hint="key fields there: " + ", ".join(key_fields(res)),
                    )
                mapped[kf] = kval
            targets[res.name] = Target(res, mapped, {})
        targets[res.name].claims[fname] = (element, value)
    return list(targets.values())


def check_key(res: Resource, key: dict[str, str]) -> tuple[str, ...]:
    """The key fields in index order; they must identify one record."""
    for name, value in key.items():
        # an empty value would match a record whose key is missing (null), and control
        # characters (the index's separator among them) never occur in a real key
        if not value.strip() or not value.isprintable():
            raise InvalidRequestError(
                f"key field {name!r} of {res.name!r} is empty or holds control characters",
                hint="give the printable value that identifies the record",
            )
    names = set(key)
    if names == set(res.primary_key):
        return tuple(res.primary_key)
    if len(names) == 1:
        (name,) = names
        if res.fields[name].unique:
            return (name,)
    raise InvalidRequestError(
        f"key {sorted(names)} does not identify a record of {res.name!r}",
        hint=f"use the primary key {res.primary_key} or one unique field",
    )
