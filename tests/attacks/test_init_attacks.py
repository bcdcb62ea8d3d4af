"""Attacks on ``onesource init --force``: writing outside the folder through symbolic links
already in it, and a city name that breaks out of the YAML comment it is written into."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.cli.harness import onesource_bin


def _init(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONESOURCE_")}
    return subprocess.run(
        [onesource_bin(), "init", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _said(text: str) -> str:
    """``text`` on one line: rich wraps long lines at the terminal's width."""
    return " ".join(text.split())


def test_force_never_writes_through_symbolic_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    city = tmp_path / "city"
    city.mkdir()
    (city / "README.md").symlink_to(outside / "pwned.md")  # dangling: exists() is False
    (city / "catalog").symlink_to(outside)  # a folder elsewhere
    (city / "var").symlink_to(outside)
    (city / ".gitignore").symlink_to(outside / "kept.txt")
    (outside / "kept.txt").write_text("mine\n")
    done = _init(str(city), "--force", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["kept.txt"], done.stdout
    assert (outside / "kept.txt").read_text() == "mine\n"
    assert "kept existing README.md" in done.stdout
    assert (city / "dags").is_dir()  # the rest of the skeleton is written


def test_a_city_name_with_a_line_break_is_refused(tmp_path: Path) -> None:
    done = _init(str(tmp_path / "c"), "--city", "清河\nadmin: true", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "--city" in done.stderr and "line break" in _said(done.stderr)
    assert not (tmp_path / "c").exists()
