"""Prometheus metrics of the web process: the metric objects, shared by the modules that count.

Every label takes values from a small fixed set (route *templates*, methods, status codes,
outcomes, cache names): nothing a client sends becomes a label value, so 10,000 distinct
URLs are still one series per route.  ``ONESOURCE_METRICS=off`` replaces every metric with
a no-op (the benchmark's baseline).  Under several worker processes set
``PROMETHEUS_MULTIPROC_DIR`` (an empty folder per start) and ``/metrics`` sums the
processes' files (``prometheus_client.multiprocess``); see docs/operators.md.
"""

from __future__ import annotations

import os
from typing import Any

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
VERIFY_OUTCOMES = frozenset(
    {
        "match",
        "mismatch",
        "no-record",
        "verify-limit",
        "unauthenticated",
        "denied",
        "not-found",
        "rate-limited",
        "auth-throttled",
        "invalid",
        "error",
    }
)
CACHES = ("keys", "grants", "rows")


def enabled() -> bool:
    """``ONESOURCE_METRICS`` (default on); ``off``/``0``/``false`` turns every metric into a no-op."""
    return os.environ.get("ONESOURCE_METRICS", "on").strip().lower() not in ("off", "0", "false")


class _Noop:
    """Stands in for a metric (and its children) when metrics are off."""

    def labels(self, *_: Any, **__: Any) -> _Noop:
        return self

    def inc(self, *_: Any) -> None:
        pass

    def dec(self, *_: Any) -> None:
        pass

    def set(self, *_: Any) -> None:
        pass

    def observe(self, *_: Any) -> None:
        pass


ON = enabled()
if ON:
    from prometheus_client import Counter, Gauge, Histogram

    HTTP_REQUESTS: Any = Counter(
        "onesource_http_requests",
        "HTTP requests answered, by route template, method and status code",
        ["route", "method", "status"],
    )
    HTTP_LATENCY: Any = Histogram(
        "onesource_http_request_duration_seconds",
        "Time from the request to the end of the response, by route template and method",
        ["route", "method"],
        buckets=LATENCY_BUCKETS,
    )
    VERIFY_CALLS: Any = Counter(
        "onesource_verify_calls", "POST /api/exchange/verify calls by outcome", ["outcome"]
    )
    AUDIT_QUEUE: Any = Gauge(
        "onesource_audit_queue_entries",
        "Audit entries waiting for the writer thread",
        multiprocess_mode="livesum",
    )
    AUDIT_LAG: Any = Histogram(
        "onesource_audit_write_lag_seconds",
        "Per writer batch: time from the oldest entry's submission to its commit",
        buckets=LATENCY_BUCKETS,
    )
    AUDIT_WRITTEN: Any = Counter(
        "onesource_audit_entries_written", "Audit entries committed by the writer thread"
    )
    AUDIT_FAILED: Any = Counter(
        "onesource_audit_write_failures", "Audit entries the writer could not commit (503)"
    )
    _CACHE: Any = Counter(
        "onesource_cache_lookups",
        "Lookups of the in-process caches (keys, grants, release rows) by result",
        ["cache", "result"],
    )
else:
    HTTP_REQUESTS = HTTP_LATENCY = VERIFY_CALLS = _Noop()
    AUDIT_QUEUE = AUDIT_LAG = AUDIT_WRITTEN = AUDIT_FAILED = _CACHE = _Noop()

# bound children: a hit costs one counter increment, no label lookup
CACHE_HIT = {name: _CACHE.labels(name, "hit") for name in CACHES}
CACHE_MISS = {name: _CACHE.labels(name, "miss") for name in CACHES}
