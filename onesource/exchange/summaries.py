"""Calls that are counted per client address and audited in summary, not one by one.

An exchange call that ends without an authenticated department (no key, a wrong key,
an unknown path, a body too large, a throttled address) is added to its address's
window; when the window ends (``auth_failure_window`` seconds after its first call),
or the web app shuts down (``onesource.web.lifespan``), ONE audit entry records the
address, the count, the statuses and a few of the endpoints.  Garbage therefore grows the
log by one entry per address per window, however fast it arrives.

Failures also drain a per-address token bucket: an address past its burst is answered
429 before any key lookup (the database is not touched), except for keys this process
has recently seen succeed, so a department behind the same address keeps working.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cachetools import TTLCache

from onesource.exchange.audit import AuditRecord
from onesource.exchange.errors import RateLimitedError
from onesource.exchange.ratelimit import RateLimiter

SUMMARY_ENDPOINT = "/api/exchange (unauthenticated calls)"
MAX_OPEN_WINDOWS = 100_000


@dataclass
class _Window:
    started: float
    first_at: datetime
    count: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    endpoints: list[str] = field(default_factory=list)


class FailureTally:
    """Per-address windows of unauthenticated calls, and the failure throttle."""

    def __init__(self, window_seconds: float, rate: float, burst: float) -> None:
        self.window_seconds = window_seconds
        self.limiter = RateLimiter(rate, burst)
        self._blocked: TTLCache[str, float] = TTLCache(MAX_OPEN_WINDOWS, 3600)
        self._any_blocked = False
        self._windows: dict[str, _Window] = {}  # insertion order = oldest window first
        self._lock = threading.Lock()

    def throttled(self, client: str | None) -> float | None:
        """Seconds to wait when ``client`` is past its failure burst, else None."""
        if not self._any_blocked:  # the usual case: nobody was ever throttled here
            return None
        until = self._blocked.get(client or "-")
        if until is None:
            return None
        wait = until - time.monotonic()
        return wait if wait > 0 else None

    def failed(self, client: str | None) -> None:
        """Take a token for one failed authentication; past the burst the address waits."""
        key = client or "-"
        try:
            self.limiter.check(key)
        except RateLimitedError as exc:
            with self._lock:
                self._blocked[key] = time.monotonic() + exc.retry_after
                self._any_blocked = True

    def count(self, client: str | None, endpoint: str, status: int) -> list[AuditRecord]:
        """Add one call to ``client``'s window; returns the summaries now due."""
        key = client or "-"
        now = time.monotonic()
        with self._lock:
            win = self._windows.get(key)
            if win is None:
                win = self._windows[key] = _Window(now, datetime.now(UTC))
            win.count += 1
            win.statuses[status] += 1
            if len(win.endpoints) < 5 and endpoint not in win.endpoints:
                win.endpoints.append(endpoint[:100])
        return self.due(now)

    def due(self, now: float | None = None, *, everything: bool = False) -> list[AuditRecord]:
        """Summaries of the windows that have ended (all of them with ``everything``)."""
        if not self._windows:  # the usual case, checked on every call without the lock
            return []
        now = time.monotonic() if now is None else now
        out = []
        with self._lock:
            overfull = len(self._windows) > MAX_OPEN_WINDOWS
            while self._windows:
                key, win = next(iter(self._windows.items()))
                if not (everything or overfull or now - win.started >= self.window_seconds):
                    break
                del self._windows[key]
                out.append(_summary(key, win))
                overfull = len(self._windows) > MAX_OPEN_WINDOWS
        return out


def _summary(client: str, win: _Window) -> AuditRecord:
    statuses = ", ".join(f"{n}x{code}" for code, n in sorted(win.statuses.items()))
    return AuditRecord(
        department=None,
        endpoint=SUMMARY_ENDPOINT,
        method="*",
        result="auth-failures",
        status_code=max(win.statuses, key=lambda c: win.statuses[c]),
        fields=list(win.endpoints),
        purpose=(
            f"client {client}: {win.count} calls without a valid key ({statuses}) "
            f"from {win.first_at.isoformat(timespec='seconds')}"
        ),
        row_count=win.count,
        at=None,
    )
