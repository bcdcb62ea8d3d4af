"""At most M distinct claimed values per (department, subject, field) per period.

Verification answers yes/no, but a department trying every value of a field for one
person would learn the value.  Each department may claim only ``limit`` distinct
values of one field of one record (the record named by its key) within ``period``
seconds; repeating a value already claimed is free.  A refused claim is audited with
the result ``verify-limit`` (the alert ``audit query --result verify-limit`` lists).

Only claims about records that exist are counted (the hub checks after the lookup), and
nothing the caller sent is kept as sent: a subject (department, resource, field, record
key) is a 16-byte BLAKE2b digest, and each claimed value a 16-byte digest of the subject
and the value, so one subject costs the same few hundred bytes whatever was claimed.

The limit cannot be reset by pushing subjects out of the cache:

- each department may open at most ``budget`` distinct subjects per period (a walk over
  many records, or over many keys, is refused with 429 ``verify-limit`` once it is spent);
- when the cache is full, new subjects are refused (429) rather than evicting others;
  subjects leave only when their period is over.

The count is per process: a hub run as W worker processes allows up to W x limit.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import time

from cachetools import TTLCache

from onesource.exchange.errors import RateLimitedError

MAX_SUBJECTS = 1_000_000
DIGEST = 16  # BLAKE2b-128
_SEP = b"\x1f"


class VerifyLimitError(RateLimitedError):
    """Too many distinct values claimed for one field of one record (or too many subjects)."""

    code = "verify-limit"


def _digest(*parts: str | bytes) -> bytes:
    h = hashlib.blake2b(digest_size=DIGEST)
    for part in parts:
        raw = part.encode() if isinstance(part, str) else part
        h.update(struct.pack(">I", len(raw)))  # length-prefixed: no ambiguity between parts
        h.update(raw)
    return h.digest()


class ClaimWatch:
    """Distinct claimed values per department, resource, record and field."""

    def __init__(
        self, limit: int, period: float, budget: int = 0, max_subjects: int | None = None
    ) -> None:
        self.limit = limit
        self.period = period
        self.budget = budget  # distinct subjects per department per period (0: no budget)
        self.max_subjects = max_subjects if max_subjects is not None else MAX_SUBJECTS
        # subject digest -> packed (first claim time, value digests...)
        self._seen: TTLCache[bytes, bytes] = TTLCache(self.max_subjects + 1, period)
        # department -> (window start, subjects opened in this window)
        self._opened: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, department: str, resource: str, key: list[str], claims: dict[str, str]) -> None:
        """Record ``claims``; raises ``VerifyLimitError`` naming the field past its limit
        (and records none of this call's new values)."""
        if self.limit <= 0:
            return
        record = _SEP.join(k.encode() for k in key)
        pending: list[tuple[bytes, bytes]] = []
        new_subjects = 0
        with self._lock:
            now = time.monotonic()
            for fname, value in claims.items():
                subject = _digest(department, resource, fname, record)
                claimed = _digest(subject, value.strip())
                packed = self._seen.get(subject)
                if packed is not None:
                    (first,) = struct.unpack_from(">d", packed)
                    values = packed[8:]
                    if now - first >= self.period:
                        packed, values = None, b""
                else:
                    first, values = now, b""
                if any(values[i : i + DIGEST] == claimed for i in range(0, len(values), DIGEST)):
                    continue
                if len(values) // DIGEST >= self.limit:
                    raise VerifyLimitError(
                        f"{department!r} already claimed {len(values) // DIGEST} different "
                        f"values of {fname!r} for this record of {resource!r}; at most "
                        f"{self.limit} per {self.period / 3600:g} h",
                        retry_after=self.period - (now - first),
                    )
                if packed is None:
                    new_subjects += 1
                    first = now
                pending.append((subject, struct.pack(">d", first) + values + claimed))
            if not pending:
                return
            if new_subjects:
                self._admit(department, new_subjects, now)
            for subject, packed in pending:
                self._seen[subject] = packed

    def _admit(self, department: str, count: int, now: float) -> None:
        """Open ``count`` new subjects for ``department`` or raise (never evicts others)."""
        start, opened = self._opened.get(department, (now, 0))
        if now - start >= self.period:
            start, opened = now, 0
        if self.budget > 0 and opened + count > self.budget:
            raise VerifyLimitError(
                f"{department!r} already verified {opened} different record fields in this "
                f"period; at most {self.budget} per {self.period / 3600:g} h",
                retry_after=self.period - (now - start),
            )
        self._seen.expire()
        if len(self._seen) + count > self.max_subjects:
            raise VerifyLimitError(
                "the hub is tracking as many verified subjects as it can hold; try later",
                retry_after=min(self.period, 60.0),
            )
        self._opened[department] = (start, opened + count)
