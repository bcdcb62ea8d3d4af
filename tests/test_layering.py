"""Dependencies point one way: schemas <- connectors <- onesource (its DAG files in onesource/dags).

Imports are read with ``ast`` (no module is executed), and the heavy frameworks
each stay in their one home.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STDLIB = set(sys.stdlib_module_names) | {"__future__"}
OURS = {"schemas", "connectors", "onesource"}

# package -> which of our packages it may import
ALLOWED_OURS = {
    "schemas": {"schemas"},
    "connectors": {"schemas", "connectors"},
    "onesource": {"schemas", "connectors", "onesource"},
}
# schemas stays tiny: only these third-party libraries
SCHEMAS_THIRD_PARTY = {"pydantic", "pydantic_core", "pyarrow"}
# framework -> the only places that may import it
FRAMEWORK_HOMES = {
    "airflow": ("onesource/orchestration/airflow",),
    "great_expectations": ("onesource/quality/",),
    "fastapi": ("onesource/web/", "onesource/demo/api.py"),
}


def imports_of(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append((f"<relative import level {node.level}>", node.lineno))
            elif node.module:
                found.append((node.module, node.lineno))
    return found


def package_files() -> list[tuple[str, Path]]:
    out = []
    for pkg in ALLOWED_OURS:
        for path in sorted((REPO / pkg).rglob("*.py")):
            out.append((pkg, path))
    return out


@pytest.mark.parametrize(
    "pkg,path",
    package_files(),
    ids=lambda v: str(v.relative_to(REPO)) if isinstance(v, Path) else v,
)
def test_imports_respect_layers(pkg: str, path: Path) -> None:
    rel = path.relative_to(REPO).as_posix()
    for name, line in imports_of(path):
        top = name.split(".")[0]
        assert not name.startswith("<relative"), (
            f"{rel}:{line}: relative import; use absolute imports"
        )
        if top in OURS:
            assert top in ALLOWED_OURS[pkg], f"{rel}:{line}: {pkg} may not import {top} ({name})"
        elif pkg == "schemas" and top not in STDLIB:
            assert top in SCHEMAS_THIRD_PARTY, (
                f"{rel}:{line}: schemas may import only stdlib, pydantic, pyarrow; found {name}"
            )
        for framework, homes in FRAMEWORK_HOMES.items():
            if top == framework:
                assert rel.startswith(homes), (
                    f"{rel}:{line}: {framework} may be imported only in {', '.join(homes)}"
                )


@pytest.mark.parametrize("pkg", ["schemas", "connectors", "onesource"])
def test_packages_resolve_to_this_repo(pkg: str) -> None:
    code = f"import {pkg}, sys; print({pkg}.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=True
    ).stdout
    assert Path(out.strip()).resolve().is_relative_to(REPO), (
        f"{pkg} resolves to {out.strip()}, not this repository"
    )


def test_cli_and_catalog_stay_light() -> None:
    """`onesource --help` and catalog loading must not pull heavy frameworks."""
    code = (
        "import sys; import onesource.cli.main, onesource.catalog.loader; "
        "heavy = [m for m in ('pandas', 'great_expectations', 'fastapi', 'duckdb', 'airflow', 'pyarrow.compute') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "", f"heavy modules imported at start-up: {out.stdout.strip()}"
