"""The environment Airflow runs in, for the embedded mode and for tests.

Airflow reads its configuration once, at import, from ``AIRFLOW__SECTION__KEY``
variables; these must be set before anything imports ``airflow``.  Values
already in the environment win, so an operator can override any of them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from onesource import defaults
from onesource.dags import FOLDER as DAGS_FOLDER

# a source checkout holds the demo catalog; an installed package has no such folder
REPO = Path(__file__).resolve().parents[2]


def catalog_folder(catalog: Path | str | None = None) -> Path:
    """The catalog folder: the argument, ``ONESOURCE_CATALOG``, ``./catalog``; in a source
    checkout run from elsewhere, the checkout's demo catalog."""
    chosen = Path(catalog or os.environ.get("ONESOURCE_CATALOG") or defaults.CATALOG)
    if not chosen.is_absolute() and not chosen.is_dir() and (REPO / "catalog").is_dir():
        chosen = REPO / "catalog"
    return chosen.resolve()


def dags_folder(catalog: Path) -> Path:
    """The folder Airflow parses: the ``dags/`` beside the catalog (a city's repository made
    by ``onesource init``), else the loader files installed with the package."""
    beside = catalog.parent / "dags"
    return beside if beside.is_dir() else DAGS_FOLDER


def airflow_home(home: Path) -> Path:
    """Where the embedded Airflow keeps its config, logs and SQLite DB."""
    return Path(home).resolve() / "airflow"


def _secret(path: Path, nbytes: int = 32) -> str:
    """A per-home secret kept in a file, so restarts keep sessions and tokens valid."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    path.write_text(value, encoding="utf-8")
    path.chmod(0o600)
    return value


def fernet_key(path: Path) -> str:
    """A Fernet key (urlsafe base64 of 32 bytes) kept in ``path``."""
    import base64

    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    path.write_text(value, encoding="utf-8")
    path.chmod(0o600)
    return value


def airflow_env(
    home: Path,
    *,
    db_url: str | None = None,
    parallelism: int = 4,
    parse_interval_s: int = 300,
    api_port: int = 8080,
    catalog: Path | None = None,
) -> dict[str, str]:
    """``AIRFLOW__*`` and ``ONESOURCE_*`` variables for an embedded Airflow under ``home``.

    Sized for a small machine (2 cores): low parallelism, one DAG-processor
    process, DAG files re-parsed every ``parse_interval_s`` seconds.
    """
    ahome = airflow_home(home)
    keys = ahome / "keys"
    catalog_path = catalog_folder(catalog)
    env = {
        "AIRFLOW_HOME": str(ahome),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder(catalog_path)),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(max(1, parallelism // 2)),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
        "AIRFLOW__CORE__FERNET_KEY": fernet_key(keys / "fernet"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(keys / "jwt"),
        "AIRFLOW__API__SECRET_KEY": _secret(keys / "api"),
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url or f"sqlite:///{ahome / 'airflow.db'}",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(parse_interval_s),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": str(max(60, parse_interval_s)),
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
    }
    env = {k: os.environ.get(k, v) for k, v in env.items()}
    # the hub's own paths follow the arguments, absolute: Airflow's processes change directory
    env["ONESOURCE_HOME"] = str(Path(home).resolve())
    env["ONESOURCE_CATALOG"] = str(catalog_path)
    return env


def apply_airflow_env(env: dict[str, str]) -> None:
    """Put ``env`` into this process before ``airflow`` is imported."""
    os.environ.update(env)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
