"""A token bucket per key (a department, or a client address), in memory (one per process).

Buckets live in a bounded TTL cache: a bucket idle long enough to have refilled is
the same as no bucket, so forgetting it changes nothing, and a flood of distinct keys
cannot grow memory.
"""

from __future__ import annotations

import threading
import time

from cachetools import TTLCache

from onesource.exchange.errors import RateLimitedError


class RateLimiter:
    """``rate`` calls per second sustained, ``burst`` at once; ``rate`` 0 disables it."""

    def __init__(self, rate: float, burst: float, size: int = 100_000) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        refill = self.burst / rate if rate > 0 else 1.0  # a full bucket after this long
        self._buckets: TTLCache[str, tuple[float, float]] = TTLCache(size, refill)
        self._lock = threading.Lock()

    def check(self, key: str, now: float | None = None) -> None:
        """Take one token for ``key``; raises ``RateLimitedError`` with the wait when empty."""
        if self.rate <= 0:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
                raise RateLimitedError(
                    f"department {key!r} exceeded {self.rate:g} calls/s (burst {self.burst:g})",
                    retry_after=wait,
                )
            self._buckets[key] = (tokens - 1.0, now)
