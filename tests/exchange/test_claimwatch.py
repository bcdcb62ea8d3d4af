"""The claim watch: fixed-size state, and a per-record limit eviction cannot reset."""

from __future__ import annotations

import tracemalloc

import pytest

from onesource.exchange.claimwatch import ClaimWatch, VerifyLimitError


def _bytes_per_subject(value: str, n: int = 2000) -> float:
    watch = ClaimWatch(3, 86_400)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(n):
        watch.check("edu", "population_register", [f"{i:018d}" * 10], {"name": value})
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    return sum(s.size_diff for s in after.compare_to(before, "filename")) / n


def test_state_does_not_grow_with_what_was_sent() -> None:
    small, large = _bytes_per_subject("x"), _bytes_per_subject("y" * 20_000)
    assert large < 600, large  # was ~20 kB: the value kept as sent
    assert abs(large - small) < 100


def test_eviction_does_not_reset_the_record_limit() -> None:
    watch = ClaimWatch(3, 86_400, max_subjects=100)
    victim = ["339901199001010114"]
    for v in ("1", "2", "3"):
        watch.check("edu", "graduates", victim, {"education_level": v})
    junk_refused = 0
    for i in range(200):
        try:
            watch.check("edu", "graduates", [f"junk{i}"], {"education_level": "x"})
        except VerifyLimitError:
            junk_refused += 1
    assert junk_refused == 200 - 99  # full: new subjects refused, nobody evicted
    with pytest.raises(VerifyLimitError):
        watch.check("edu", "graduates", victim, {"education_level": "4"})
    watch.check("edu", "graduates", victim, {"education_level": "2"})  # repeats stay free


def test_department_subject_budget() -> None:
    watch = ClaimWatch(3, 86_400, budget=10)
    for i in range(10):
        watch.check("edu", "r", [str(i)], {"f": "v"})
    with pytest.raises(VerifyLimitError, match="at most 10"):
        watch.check("edu", "r", ["new"], {"f": "v"})
    watch.check("edu", "r", ["3"], {"f": "w"})  # a known subject: only its own limit applies
    watch.check("hrss", "r", ["new"], {"f": "v"})  # another department has its own budget


def test_limit_is_per_field_value_and_strips() -> None:
    watch = ClaimWatch(2, 86_400)
    watch.check("edu", "r", ["1"], {"f": "a"})
    watch.check("edu", "r", ["1"], {"f": " a "})
    watch.check("edu", "r", ["1"], {"f": "b"})
    with pytest.raises(VerifyLimitError):
        watch.check("edu", "r", ["1"], {"f": "c"})
    watch.check("edu", "r", ["1"], {"g": "c"})
