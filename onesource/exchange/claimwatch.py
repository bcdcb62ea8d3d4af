"""At most M distinct claimed values per (department, subject, field) per period.

Verification answers yes/no, but a department trying every value of a field for one
person would learn the value.  Each department may claim only ``limit`` distinct
values of one field of one record (the record named by its key) within ``period``
seconds; repeating a value already claimed is free.  A refused claim is audited with
the result ``verify-limit`` (the alert ``audit query --result verify-limit`` lists).

Claimed values are held in a bounded TTL cache (the record keys it holds are already in
the verification index anyway).  The count is per process: a hub run as W worker
processes allows up to W x limit.
"""

from __future__ import annotations

import threading
import time

from cachetools import TTLCache

from onesource.exchange.errors import RateLimitedError

MAX_SUBJECTS = 1_000_000


class VerifyLimitError(RateLimitedError):
    """Too many distinct values claimed for one field of one record."""

    code = "verify-limit"


class ClaimWatch:
    """Distinct claimed values per department, resource, record and field."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        # (department, resource, record key) -> {field: (first claim, claimed values)}
        self._seen: TTLCache[tuple[str, str, tuple[str, ...]], dict[str, _Claimed]] = TTLCache(
            MAX_SUBJECTS, period
        )
        self._lock = threading.Lock()

    def check(self, department: str, resource: str, key: list[str], claims: dict[str, str]) -> None:
        """Record ``claims``; raises ``VerifyLimitError`` naming the field past its limit
        (and records none of this call's new values)."""
        if self.limit <= 0:
            return
        slot = (department, resource, tuple(key))
        with self._lock:
            fields = self._seen.get(slot)
            if (
                fields is not None
                and all(v.strip() in fields[f][1] for f, v in claims.items() if f in fields)
                and all(f in fields for f in claims)
            ):
                return  # the usual case: values this department already claimed
            now = time.monotonic()
            fields = dict(fields) if fields is not None else {}
            for fname, value in claims.items():
                first, values = fields.get(fname, (now, frozenset()))
                if now - first >= self.period:
                    first, values = now, frozenset()
                claimed = value.strip()
                if claimed in values:
                    continue
                if len(values) >= self.limit:
                    raise VerifyLimitError(
                        f"{department!r} already claimed {len(values)} different values of "
                        f"{fname!r} for this record of {resource!r}; at most {self.limit} "
                        f"per {self.period / 3600:g} h",
                        retry_after=self.period - (now - first),
                    )
                fields[fname] = (first, values | {claimed})
            self._seen[slot] = fields


_Claimed = tuple[float, frozenset[str]]
