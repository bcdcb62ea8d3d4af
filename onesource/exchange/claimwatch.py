"""At most M distinct claimed values per (department, subject, field) per period.

Verification answers yes/no, but a department trying every value of a field for one
person would learn the value.  Each department may claim only ``limit`` distinct
values of one field of one record (the record named by its key) within ``period``
seconds; repeating a value already claimed is free.  A refused claim is audited with
the result ``verify-limit`` (the alert ``audit query --result verify-limit`` lists).

The subject's key and the claimed values are kept only as keyed BLAKE2b digests with
a per-process random key (no ID numbers in memory), in a bounded TTL cache.  The
count is per process: a hub run as W worker processes allows up to W x limit.
"""

from __future__ import annotations

import hashlib
import secrets
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
        self._salt = secrets.token_bytes(16)
        self._seen: TTLCache[bytes, tuple[float, frozenset[bytes]]] = TTLCache(MAX_SUBJECTS, period)
        self._lock = threading.Lock()

    def _digest(self, *parts: str) -> bytes:
        return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16, key=self._salt).digest()

    def check(self, department: str, resource: str, key: list[str], claims: dict[str, str]) -> None:
        """Record ``claims``; raises ``VerifyLimitError`` naming the field past its limit
        (and records none of this call's new values)."""
        if self.limit <= 0:
            return
        now = time.monotonic()
        subject = "\x1e".join(key)
        updates = {}
        with self._lock:
            for fname, value in claims.items():
                slot = self._digest(department, resource, subject, fname)
                first, values = self._seen.get(slot, (now, frozenset()))
                if now - first >= self.period:
                    first, values = now, frozenset()
                claimed = self._digest(value.strip())
                if claimed in values:
                    continue
                if len(values) >= self.limit:
                    wait = self.period - (now - first)
                    raise VerifyLimitError(
                        f"{department!r} already claimed {len(values)} different values of "
                        f"{fname!r} for this record of {resource!r}; at most {self.limit} "
                        f"per {self.period / 3600:g} h",
                        retry_after=wait,
                    )
                updates[slot] = (first, values | {claimed})
            for slot, entry in updates.items():
                self._seen[slot] = entry
