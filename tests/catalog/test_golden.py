"""Golden messages for malformed catalogs: file:line:column, path, what, how to fix."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from onesource.cli.main import app

REPO = Path(__file__).resolve().parents[2]
CASES_DIR = REPO / "tests" / "cases" / "catalog_errors"
CASES: dict[str, list[dict]] = yaml.safe_load(
    (CASES_DIR / "cases.yaml").read_text(encoding="utf-8")
)["cases"]
UPDATE = os.environ.get("UPDATE_GOLDENS") == "1"


def build_case(name: str, tmp: Path) -> Path:
    root = tmp / "catalog"
    shutil.copytree(REPO / "catalog", root)
    for edit in CASES[name]:
        path = root / edit["file"]
        if edit.get("delete"):
            path.unlink()
        elif "write" in edit:
            path.write_bytes(edit["write"].encode(edit.get("encoding", "utf-8")))
        else:
            text = path.read_text(encoding="utf-8")
            assert text.count(edit["find"]) == 1, (
                f"case {name}: {edit['find']!r} must occur once in {edit['file']}"
            )
            path.write_text(text.replace(edit["find"], edit["replace"]), encoding="utf-8")
    return root


def test_demo_catalog_is_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(app, ["catalog", "validate"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok ")


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_catalog_message(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_case(name, tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["catalog", "validate", "--root", "catalog"])
    golden = CASES_DIR / f"{name}.txt"
    if UPDATE:
        golden.write_text(result.output, encoding="utf-8")
    assert result.exit_code == 1, result.output
    assert result.output == golden.read_text(encoding="utf-8")
    # never a Python traceback for a steward's mistake
    assert "Traceback" not in result.output


def test_every_case_has_a_golden_and_they_differ() -> None:
    texts = {}
    for name in CASES:
        texts[name] = (CASES_DIR / f"{name}.txt").read_text(encoding="utf-8")
    assert len(CASES) >= 30
    assert len(set(texts.values())) == len(texts), "two cases produce the same output"
