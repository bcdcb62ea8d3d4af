"""Per-address summaries of unauthenticated calls, and the per-record claim limit."""

from __future__ import annotations

import pytest

from onesource.exchange.claimwatch import ClaimWatch, VerifyLimitError
from onesource.exchange.summaries import FailureTally


def test_one_summary_per_address_per_window() -> None:
    tally = FailureTally(window_seconds=60, rate=1, burst=5)
    for _ in range(30):
        assert tally.count("10.0.0.1", "/api/exchange/resources", 401) == []
    tally.count("10.0.0.2", "/api/exchange/verify", 404)
    assert tally.due(now=0) == []  # windows still open
    summaries = tally.due(everything=True)
    assert sorted(s.row_count or 0 for s in summaries) == [1, 30]
    first = next(s for s in summaries if s.row_count == 30)
    assert first.result == "auth-failures" and "10.0.0.1" in (first.purpose or "")
    assert first.fields == ["/api/exchange/resources"] and first.status_code == 401


def test_an_ended_window_is_due_with_the_next_call() -> None:
    tally = FailureTally(window_seconds=1e-9, rate=1, burst=5)
    tally.count("10.0.0.1", "/x", 401)
    due = tally.count("10.0.0.3", "/x", 401)  # any later call flushes ended windows
    assert [s.row_count for s in due] == [1]  # 10.0.0.1; the new window is still open


def test_failures_past_the_burst_throttle_only_that_address() -> None:
    tally = FailureTally(window_seconds=60, rate=0.001, burst=3)
    for _ in range(4):
        tally.failed("10.0.0.1")
    assert tally.throttled("10.0.0.1") is not None
    assert tally.throttled("10.0.0.2") is None


def test_claim_limit_counts_distinct_values_per_record_and_field() -> None:
    watch = ClaimWatch(limit=2, period=3600)
    watch.check("hrss", "graduates", ["A"], {"education_level": "10"})
    watch.check("hrss", "graduates", ["A"], {"education_level": " 20 "})
    watch.check("hrss", "graduates", ["A"], {"education_level": "10"})  # a repeat is free
    with pytest.raises(VerifyLimitError) as info:
        watch.check("hrss", "graduates", ["A"], {"education_level": "30"})
    assert info.value.code == "verify-limit" and info.value.retry_after > 0
    watch.check("hrss", "graduates", ["B"], {"education_level": "30"})  # another record
    watch.check("civil", "graduates", ["A"], {"education_level": "30"})  # another department


def test_claim_limit_period_ends() -> None:
    watch = ClaimWatch(limit=1, period=1e-9)
    watch.check("hrss", "graduates", ["A"], {"education_level": "10"})
    watch.check("hrss", "graduates", ["A"], {"education_level": "20"})  # a new period
