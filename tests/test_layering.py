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


# layers inside onesource/: subpackage (or top-level module) -> the others it may import,
# lazily inside functions too (a deferred import is still a dependency). Read upwards:
# leaves, then storage and the catalog, then the steps, then what serves and schedules
# them, then the command line. A new subpackage gets its line here, deliberately.
LEAVES: set[str] = set()
INNER_LAYERS: dict[str, set[str]] = {
    "__init__": {"_toplevel"},
    "_toplevel": LEAVES,
    "defaults": LEAVES,
    "metrics": LEAVES,
    "settings": {"defaults"},
    # pure: Arrow/numpy in, Arrow/numpy out; no store, no web, no exchange, no pipeline
    "anonymize": LEAVES,
    "store": {"settings", "defaults"},
    "catalog": {"settings", "defaults"},
    "lineage": {"catalog", "settings"},
    "quality": {"catalog", "settings", "store"},
    "notify": {"catalog", "settings", "store"},
    "pipeline": {"catalog", "lineage", "quality", "settings", "store"},
    "release": {"anonymize", "catalog", "lineage", "quality", "settings", "store"},
    "base": {"catalog", "lineage", "quality", "settings", "store"},
    "exchange": {"catalog", "metrics", "pipeline", "settings", "store"},
    "ops": {"catalog", "exchange", "settings", "store"},
    # the web app serves; it never runs pipelines or schedules them.  It notifies: the
    # console sends a department's notices (applications, objections) after the action
    "web": {
        "anonymize",
        "catalog",
        "exchange",
        "metrics",
        "notify",
        "quality",
        "release",
        "settings",
        "store",
    },
    "orchestration": {
        "base",
        "catalog",
        "dags",
        "defaults",
        "lineage",
        "notify",
        "pipeline",
        "quality",
        "release",
        "settings",
        "store",
    },  # fmt: skip
    "demo": {"catalog", "quality", "settings", "store"},
    "dags": {"orchestration"},
    "scaffold": {"orchestration"},  # the DAG files it writes into a city's repository
    "cli": {
        "base",
        "catalog",
        "defaults",
        "demo",
        "exchange",
        "metrics",
        "notify",
        "ops",
        "orchestration",
        "pipeline",
        "quality",
        "release",
        "scaffold",
        "settings",
        "store",
        "web",
    },  # fmt: skip
}
# what "pure" means for anonymize: no I/O or serving libraries
ANONYMIZE_FORBIDDEN = {
    "sqlalchemy",
    "alembic",
    "fsspec",
    "httpx",
    "fastapi",
    "starlette",
    "airflow",
}


def _inner(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "onesource" and len(parts) > 1 else None


def inner_imports_of(path: Path) -> list[tuple[str, int]]:
    """Imports of ``path``, with ``from onesource import x`` spelled ``onesource.x``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "onesource":
            found += [(f"onesource.{a.name}", node.lineno) for a in node.names]
    return imports_of(path) + found


def test_every_onesource_subpackage_has_a_layer() -> None:
    present = {
        p.name.removesuffix(".py")
        for p in (REPO / "onesource").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"
    }
    missing = sorted(present - set(INNER_LAYERS))
    assert not missing, f"onesource/{missing}: add a line to INNER_LAYERS (what may it import?)"


@pytest.mark.parametrize(
    "path",
    sorted((REPO / "onesource").rglob("*.py")),
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_onesource_layers(path: Path) -> None:
    rel = path.relative_to(REPO / "onesource")
    layer = rel.parts[0].removesuffix(".py")
    allowed = INNER_LAYERS.get(layer)
    if allowed is None:
        pytest.fail(f"onesource/{layer} has no entry in INNER_LAYERS")
    for name, line in inner_imports_of(path):
        target = _inner(name)
        if target is not None and target != layer:
            assert target in allowed, (
                f"onesource/{rel}:{line}: onesource.{layer} may not import onesource.{target} "
                f"({name}); it may import {sorted(allowed) or 'nothing of onesource'}"
            )
        if layer == "anonymize":
            assert name.split(".")[0] not in ANONYMIZE_FORBIDDEN, (
                f"onesource/{rel}:{line}: anonymize stays pure (Arrow in, Arrow out): {name}"
            )


def test_layer_checker_catches_a_violation(tmp_path: Path) -> None:
    """The attack: a store module reaching up into the web app is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from onesource.web import app\n    from onesource import cli\n")
    targets = {t for n, _ in inner_imports_of(bad) if (t := _inner(n)) is not None}
    assert targets == {"web", "cli"}
    assert not targets & INNER_LAYERS["store"]
