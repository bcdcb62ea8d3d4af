"""Parsing on several cores gives exactly the findings of a sequential parse."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_golden import build_case

from onesource.catalog import loader


@pytest.mark.parametrize(
    "case", ["unknown_element", "duplicate_key", "tab_indentation", "second_source_claimant"]
)
def test_parallel_parse_matches_sequential(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = build_case(case, tmp_path)
    monkeypatch.chdir(tmp_path)
    sequential = [str(i) for i in loader.load_catalog("catalog").issues]
    monkeypatch.setattr(loader, "PARALLEL_FROM", 1)
    assert loader.parse_in_parallel(root), "the parallel path did not run"
    parallel = [str(i) for i in loader.load_catalog("catalog").issues]
    assert parallel == sequential
    assert sequential, "the case should produce findings"
