"""Per-department authentication rules: whether a department requires signed requests.

A department that requires them (``onesource dept require-signing edu``) has every call
refused (401 ``signature-required``) unless it carries a valid signature besides its key.
Read through a short bounded cache, like keys and grants.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa
from cachetools import TTLCache

from onesource.store.db import session
from onesource.store.exchange_models import DepartmentAuth
from onesource.store.records import utcnow

CACHE_SIZE = 4096  # departments


class DepartmentAuthBook:
    """Read and set each department's authentication rule."""

    def __init__(self, engine: sa.Engine, cache_seconds: float = 2.0) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        # keyed by authenticated departments only (bounded by the catalog), read on every call
        self._cache: TTLCache[str, bool] = TTLCache(CACHE_SIZE, max(cache_seconds, 1e-6))
        self._lock = threading.Lock()

    def requires_signature(self, department: str) -> bool:
        """Whether ``department`` must sign its calls."""
        with self._lock:  # cache[key], not .get(): one lookup instead of two (hot path)
            try:
                return self._cache[department]
            except KeyError:
                pass
        with session(self.engine) as ses:
            row = ses.get(DepartmentAuth, department)
        required = bool(row is not None and row.require_signature)
        if self.cache_seconds > 0:
            with self._lock:
                self._cache[department] = required
        return required

    def set_require_signature(self, department: str, required: bool) -> None:
        """Require (or stop requiring) signed requests from ``department``."""
        with session(self.engine, write=True) as ses:
            row = ses.get(DepartmentAuth, department)
            if row is None:
                ses.add(
                    DepartmentAuth(
                        department=department, require_signature=required, updated_at=utcnow()
                    )
                )
            else:
                row.require_signature = required
                row.updated_at = utcnow()
        with self._lock:
            self._cache.pop(department, None)

    def all(self) -> dict[str, bool]:
        """Every department with a rule."""
        with session(self.engine) as ses:
            return {
                r.department: r.require_signature for r in ses.scalars(sa.select(DepartmentAuth))
            }
