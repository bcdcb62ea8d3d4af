"""A token bucket per department, in memory (one per process)."""

from __future__ import annotations

import threading
import time

from onesource.exchange.errors import RateLimitedError


class RateLimiter:
    """``rate`` calls per second sustained, ``burst`` at once; ``rate`` 0 disables it."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._buckets: dict[str, tuple[float, float]] = {}
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
