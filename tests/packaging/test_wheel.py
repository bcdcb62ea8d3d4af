"""The product as a city installs it: a wheel built from a clean copy of the repository,
installed in a fresh virtualenv, ``onesource init``, validate, ingest, release.

Nothing is downloaded.  The wheel is built with ``uv build --offline`` (setuptools from
uv's cache) and installed with ``--no-deps``; its declared dependencies are taken from
this test run's environment by a ``.pth`` line naming that site-packages as a plain path
(a path line does not run that folder's own ``.pth`` files, so the repository's editable
install stays inactive).  What must come from the wheel is checked: ``onesource``,
``schemas`` and ``connectors`` import from the new virtualenv, never from the repository,
and every default ``Requires-Dist`` of the wheel is met by what that virtualenv sees.

Then the top-level names (docs/adr/0004-top-level-packages.md): a package named
``schemas`` from another distribution, installed over ours or earlier on ``sys.path``,
stops every ``onesource`` command with one clear error (exit 1), never a half-working hub.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.packaging]

REPO = Path(__file__).resolve().parents[2]
BUILD_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "schemas", "connectors", "onesource")
UV = Path(sys.executable).parent / "uv"


@dataclass
class Venv:
    root: Path
    work: Path
    env: dict[str, str]

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def site(self) -> Path:
        return next((self.root / "lib").glob("python3*/site-packages"))

    def run(
        self, *argv: str, cwd: Path | None = None, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        exe = str(self.bin / argv[0]) if (self.bin / argv[0]).exists() else argv[0]
        return subprocess.run(
            [exe, *argv[1:]],
            cwd=cwd or self.work,
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def _ok(result: subprocess.CompletedProcess[str], code: int = 0) -> str:
    out = result.stdout + result.stderr
    assert result.returncode == code, (
        f"{result.args}: exit {result.returncode}, wanted {code}\n{out}"
    )
    return out


def _clean_copy(dest: Path) -> Path:
    """What a fresh clone holds of the build inputs: tracked and new files, not ignored ones."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "--", *BUILD_INPUTS],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for rel in listed:
        src = REPO / rel
        if src.is_file():  # tracked files deleted in the working tree are not in a clone
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def _new_venv(root: Path, work: Path, wheels: list[Path]) -> Venv:
    subprocess.run([str(UV), "venv", "-q", "--python", sys.executable, str(root)], check=True)
    venv_python = root / "bin" / "python"
    for wheel in wheels:
        subprocess.run(
            [str(UV), "pip", "install", "-q", "--offline", "--no-deps",
             "--python", str(venv_python), str(wheel)],
            check=True,
        )  # fmt: skip
    site = next((root / "lib").glob("python3*/site-packages"))
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ONESOURCE_", "AIRFLOW", "PYTHON", "VIRTUAL_ENV")) and k != "COLUMNS"
    }
    env["PATH"] = str(root / "bin") + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = str(root)
    return Venv(root, work, env)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not UV.exists():
        pytest.fail(f"uv is not installed beside {sys.executable} (make setup installs it)")
    base = tmp_path_factory.mktemp("wheel")
    src = _clean_copy(base / "src")
    result = subprocess.run(
        [str(UV), "build", "--wheel", "--offline", "-q", "-o", str(base / "dist"), str(src)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (
        "uv build --offline failed; it takes the build backend (setuptools, pyproject's "
        "build-system) from uv's cache, which `make setup` fills when it installs the "
        f"project:\n{result.stdout}{result.stderr}"
    )
    (found,) = (base / "dist").glob("onesource_hub-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    base = tmp_path_factory.mktemp("venv")
    return _new_venv(base / "venv", base / "work", [wheel])


@pytest.fixture(scope="module")
def city(venv: Venv) -> Iterator[Path]:
    out = _ok(venv.run("onesource", "init", "my-city"))
    assert "created" in out
    yield venv.work / "my-city"


def test_wheel_carries_data_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        "schemas/json/resource.schema.json",
        "schemas/json/departments.schema.json",
        "schemas/py.typed",
        "connectors/py.typed",
        "onesource/py.typed",
        "onesource/dags/ingest_shard_0.py",
        "onesource/dags/onesource_catalog.py",
        "onesource/store/migrations/versions/0001_initial_schema.py",
        "onesource/web/portal/templates/base.html",
        "onesource/scaffold/city/dot-gitignore",
        "onesource/scaffold/city/dot-github/workflows/catalog.yml",
        "onesource/scaffold/city/drops/dsj/service_points-2025-01.csv",
    }
    assert wanted <= names, f"missing from the wheel: {sorted(wanted - names)}"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), "no LICENSE"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"onesource", "schemas", "connectors"}


def test_packages_come_from_the_wheel(venv: Venv) -> None:
    code = (
        "import json, onesource, schemas, connectors, onesource.dags;"
        "print(json.dumps({m.__name__: m.__file__ for m in (onesource, schemas, connectors)}"
        " | {'dags': str(onesource.dags.FOLDER)}))"
    )
    where = json.loads(_ok(venv.run("python", "-c", code)))
    for name, path in where.items():
        assert Path(path).resolve().is_relative_to(venv.site.resolve()), f"{name} from {path}"
        assert not Path(path).resolve().is_relative_to(REPO), f"{name} from the repository"
    assert (Path(where["dags"]) / "ingest_shard_0.py").is_file()


def test_declared_dependencies_are_met(venv: Venv) -> None:
    """Every default Requires-Dist of the wheel is installed at an allowed version."""
    code = """
import json
from importlib.metadata import PackageNotFoundError, distribution, version
from packaging.requirements import Requirement
bad = []
for line in distribution("onesource-hub").requires or []:
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    try:
        have = version(req.name)
    except PackageNotFoundError:
        bad.append(f"{req}: not installed")
        continue
    if not req.specifier.contains(have, prereleases=True):
        bad.append(f"{req}: {have}")
print(json.dumps(bad))
"""
    assert json.loads(_ok(venv.run("python", "-c", code))) == []


def test_init_refuses_a_non_empty_folder(venv: Venv, city: Path) -> None:
    before = (city / "catalog" / "departments.yaml").read_bytes()
    out = _ok(venv.run("onesource", "init", "my-city"), 1)
    assert "is not empty" in out and "--force" in out
    out = _ok(venv.run("onesource", "init", "my-city", "--force"))
    assert "kept existing catalog/departments.yaml" in out
    assert (city / "catalog" / "departments.yaml").read_bytes() == before


def test_city_skeleton(city: Path) -> None:
    for rel in (
        "README.md",
        ".gitignore",
        ".github/workflows/catalog.yml",
        "ci/validate.sh",
        "dags/onesource_pipelines.py",
        "dags/onesource_catalog_status.py",
        "catalog/departments.yaml",
        "catalog/resources/dsj/service_points.yaml",
        "catalog/releases/service_points_open.yaml",
    ):
        assert (city / rel).is_file(), rel
    assert "onesource catalog validate" in (city / ".github/workflows/catalog.yml").read_text()
    assert os.access(city / "ci" / "validate.sh", os.X_OK)
    assert "var/" in (city / ".gitignore").read_text().splitlines()


def test_city_validates_ingests_and_releases(venv: Venv, city: Path) -> None:
    out = _ok(venv.run("onesource", "catalog", "validate", cwd=city))
    assert "ok 5 files: 1 departments, 5 elements, 1 resources, 1 releases" in out
    _ok(venv.run("sh", str(city / "ci" / "validate.sh"), cwd=venv.work))  # CI from anywhere
    out = _ok(venv.run("onesource", "run", "ingest", "service_points", cwd=city))
    assert "succeeded service_points: run " in out and "4 good, 0 quarantined" in out
    out = _ok(venv.run("onesource", "release", "build", "service_points_open", cwd=city))
    assert "published service_points_open v1: 4 rows" in out
    assert (city / "var" / "onesource.db").is_file()


def test_city_catalog_error_exits_1(venv: Venv, city: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(city / "catalog", broken / "catalog")
    path = broken / "catalog" / "resources" / "dsj" / "service_points.yaml"
    path.write_text(path.read_text().replace("update_cycle: monthly", "update_cycle: hourly"))
    out = _ok(venv.run("onesource", "catalog", "validate", cwd=broken), 1)
    assert "service_points.yaml:" in out and "update_cycle" in out


def test_dags_folder_is_the_city_or_the_package(venv: Venv, city: Path, tmp_path: Path) -> None:
    code = (
        "import json; from onesource.orchestration.environment import airflow_env;"
        "from pathlib import Path; e = airflow_env(Path('var'));"
        "print(json.dumps([e['AIRFLOW__CORE__DAGS_FOLDER'], e['ONESOURCE_CATALOG']]))"
    )
    folder, catalog = json.loads(_ok(venv.run("python", "-c", code, cwd=city)))
    assert (folder, catalog) == (str(city / "dags"), str(city / "catalog"))
    elsewhere = tmp_path / "hub"
    shutil.copytree(city / "catalog", elsewhere / "catalog")
    folder, _ = json.loads(_ok(venv.run("python", "-c", code, cwd=elsewhere)))
    assert Path(folder) == venv.site / "onesource" / "dags"
    assert (Path(folder) / "ingest_shard_0.py").is_file()


def _dummy_schemas_wheel(dest: Path) -> Path:
    """A distribution ``schemas-dummy`` whose top-level package is ``schemas``."""
    name = "schemas_dummy-1.0-py3-none-any.whl"
    files = {
        "schemas/__init__.py": "VALUE = 'the other schemas'\n",
        "schemas_dummy-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: schemas-dummy\nVersion: 1.0\n",
        "schemas_dummy-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "schemas_dummy-1.0.dist-info/top_level.txt": "schemas\n",
    }
    record = "".join(f"{path},,\n" for path in files) + "schemas_dummy-1.0.dist-info/RECORD,,\n"
    path = dest / name
    with zipfile.ZipFile(path, "w") as zf:
        for p, text in files.items():
            zf.writestr(p, text)
        zf.writestr("schemas_dummy-1.0.dist-info/RECORD", record)
    return path


def _refused(out: str) -> None:
    assert "top-level package 'schemas'" in out and "is not OneSource's" in out, out
    assert "0004-top-level-packages" in out


def test_a_schemas_package_earlier_on_the_path_is_refused(venv: Venv, city: Path) -> None:
    shadow = venv.work / "shadow" / "schemas"
    shadow.mkdir(parents=True, exist_ok=True)
    (shadow / "__init__.py").write_text("VALUE = 'the other schemas'\n")
    out = _ok(
        venv.run("onesource", "catalog", "validate", cwd=city, PYTHONPATH=str(shadow.parent)), 1
    )
    _refused(out)
    _ok(venv.run("onesource", "catalog", "validate", cwd=city))  # without it: fine again


def test_a_schemas_distribution_installed_over_ours_is_refused(wheel: Path, tmp_path: Path) -> None:
    dummy = _dummy_schemas_wheel(tmp_path)
    # the other distribution installed after the hub: its schemas/__init__.py replaces ours
    after = _new_venv(tmp_path / "after", tmp_path / "work", [wheel, dummy])
    out = _ok(after.run("onesource", "init", "c1"), 1)
    _refused(out)
    assert not (after.work / "c1").exists()
    # installed before the hub: ours replaces it, the hub works (the other one is broken;
    # the ADR says why one virtualenv per hub is the supported install)
    before = _new_venv(tmp_path / "before", tmp_path / "work", [dummy, wheel])
    _ok(before.run("onesource", "init", "c2"))
    _ok(before.run("onesource", "catalog", "validate", cwd=before.work / "c2"))
