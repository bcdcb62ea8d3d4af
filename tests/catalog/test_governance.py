"""Field-level governance through the installed command: share classes, exceptions, in_set."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ONESOURCE = Path(sys.executable).with_name("onesource")
GRID = "resources/grid/grid_events.yaml"
GRID_OPEN = "releases/grid_events_open.yaml"
CONDITIONAL_TYPE = (
    GRID,
    "  event_type:\n    element: grid_event.event_type\n",
    "  event_type:\n    element: grid_event.event_type\n    share_class: conditional\n",
)
KEEP_TYPE = "event_type: {source: grid_events.event_type, technique: keep}"


def _catalog(tmp: Path, *edits: tuple[str, str, str]) -> Path:
    root = tmp / "catalog"
    shutil.copytree(REPO / "catalog", root)
    for file, find, replace in edits:
        path = root / file
        text = path.read_text(encoding="utf-8")
        assert text.count(find) == 1, find
        path.write_text(text.replace(find, replace), encoding="utf-8")
    return root


def _validate(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ONESOURCE), "catalog", "validate", "--root", str(root), *args],
        capture_output=True,
        text=True,
        cwd=root.parent,
        timeout=120,
    )


def test_reasoned_exception_is_shown_as_a_notice_and_passes(tmp_path: Path) -> None:
    exception = (
        "event_type: {source: grid_events.event_type, technique: keep, open_exception: "
        "{reason: 事件类型为公开分类代码, basis: 《政府信息公开条例》第二十条}}"
    )
    root = _catalog(tmp_path, CONDITIONAL_TYPE, (GRID_OPEN, KEEP_TYPE, exception))
    res = _validate(root)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "notice: columns.event_type.open_exception" in res.stdout
    assert "事件类型为公开分类代码" in res.stdout and "(1 notice(s))" in res.stdout
    data = json.loads(_validate(root, "--json").stdout)
    assert data["ok"] is True
    assert [i["severity"] for i in data["issues"]] == ["notice"]


def test_without_the_exception_it_fails(tmp_path: Path) -> None:
    res = _validate(_catalog(tmp_path, CONDITIONAL_TYPE))
    assert res.returncode == 1
    assert "grid_events_open.yaml:15:" in res.stdout and "shared only on conditions" in res.stdout


@pytest.mark.parametrize(
    "technique",
    [
        "technique: generalize, hierarchy: {type: code_list, code_list: grid_event_type}, level: 1",
        "technique: pseudonymize",
        "technique: drop",
    ],
    ids=["generalize", "pseudonymize", "drop"],
)
def test_de_identifying_techniques_open_a_conditional_field(tmp_path: Path, technique: str) -> None:
    root = _catalog(
        tmp_path,
        CONDITIONAL_TYPE,
        (GRID_OPEN, KEEP_TYPE, f"event_type: {{source: grid_events.event_type, {technique}}}"),
    )
    res = _validate(root)
    assert "shared only on conditions" not in res.stdout, res.stdout


def test_restricted_release_may_keep_a_conditional_field(tmp_path: Path) -> None:
    root = _catalog(
        tmp_path,
        CONDITIONAL_TYPE,
        (GRID_OPEN, "open_class: open\n", "open_class: restricted\nopen_condition: 注册用户\n"),
    )
    res = _validate(root)
    assert res.returncode == 0, res.stdout


def test_none_field_is_refused_whatever_the_technique_or_exception(tmp_path: Path) -> None:
    none_division = (
        GRID,
        "  division:\n    element: grid_event.division\n",
        "  division:\n    element: grid_event.division\n    share_class: none\n",
    )
    generalized = (
        GRID_OPEN,
        "division: {source: grid_events.division, technique: keep}",
        "division: {source: grid_events.division, technique: generalize, "
        "hierarchy: {type: prefix, lengths: [4]}, level: 1, "
        "open_exception: {reason: r, basis: b}}",
    )
    res = _validate(_catalog(tmp_path, none_division, generalized))
    assert res.returncode == 1
    assert "columns.division.source" in res.stdout and "'none'" in res.stdout


def test_demo_catalog_validates_with_the_installed_command() -> None:
    res = _validate(REPO / "catalog")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("ok ")
