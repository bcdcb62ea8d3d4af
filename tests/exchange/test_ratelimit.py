"""The token bucket."""

from __future__ import annotations

import pytest

from onesource.exchange.errors import RateLimitedError
from onesource.exchange.ratelimit import RateLimiter


def test_burst_then_refill() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    for _ in range(3):
        limiter.check("edu", now=100.0)
    with pytest.raises(RateLimitedError) as info:
        limiter.check("edu", now=100.0)
    assert info.value.retry_after == pytest.approx(0.5)
    limiter.check("psb", now=100.0)  # buckets are per department
    limiter.check("edu", now=100.6)


def test_zero_rate_disables() -> None:
    limiter = RateLimiter(rate=0, burst=1)
    for _ in range(100):
        limiter.check("edu")
