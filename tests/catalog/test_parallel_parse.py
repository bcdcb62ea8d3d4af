"""Parsing on several cores gives exactly the findings of a sequential parse.

The parallel path forks, so it runs only in a process without other threads
(``parse_in_parallel`` refuses otherwise, rightly). Tests that ran before in this
process may leave daemon threads that end on their own later (an idle audit writer),
so both parses run in a fresh interpreter: the result does not depend on test order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_golden import build_case

from onesource.catalog import loader

CASES = ["unknown_element", "duplicate_key", "tab_indentation", "second_source_claimant"]
PARSE_BOTH = """
import json, os, sys, threading
from pathlib import Path
from onesource.catalog import loader
out = {}
for case in sys.argv[1:]:
    os.chdir(case)
    loader.PARALLEL_FROM = 10**9
    sequential = [str(i) for i in loader.load_catalog("catalog").issues]
    loader.PARALLEL_FROM = 1
    assert threading.active_count() == 1, [t.name for t in threading.enumerate()]
    ran = bool(loader.parse_in_parallel(Path("catalog").resolve()))
    parallel = [str(i) for i in loader.load_catalog("catalog").issues]
    out[Path(case).name] = {"ran": ran, "sequential": sequential, "parallel": parallel}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every case parsed both ways in one fresh interpreter."""
    base = tmp_path_factory.mktemp("parallel")
    for case in CASES:
        build_case(case, base / case)
    out = subprocess.run(
        [sys.executable, "-c", PARSE_BOTH, *(str(base / c) for c in CASES)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, dict[str, Any]] = json.loads(out.stdout)
    return result


@pytest.mark.parametrize("case", CASES)
def test_parallel_parse_matches_sequential(case: str, parsed: dict[str, dict[str, Any]]) -> None:
    result = parsed[case]
    assert result["ran"], "the parallel path did not run"
    assert result["parallel"] == result["sequential"]
    assert result["sequential"], "the case should produce findings"


def test_parallel_parse_refuses_to_fork_beside_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forking a process with other threads can copy a held lock: sequential instead."""
    import threading

    root = build_case("unknown_element", tmp_path)
    monkeypatch.setattr(loader, "PARALLEL_FROM", 1)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, name="bystander")
    other.start()
    try:
        assert loader.parse_in_parallel(root) == {}
    finally:
        stop.set()
        other.join()
