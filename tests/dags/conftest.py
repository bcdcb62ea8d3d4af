"""Airflow test environment: set before anything imports ``airflow``.

Airflow reads its configuration once per process, so one temporary
AIRFLOW_HOME with a SQLite metadata DB serves the whole session.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="onesource-airflow-"))
if "airflow" not in __import__("sys").modules:
    os.environ.update(
        {
            "AIRFLOW_HOME": str(_AIRFLOW_HOME),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "onesource" / "dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """A fresh, migrated Airflow metadata DB (SQLite) for the session."""
    from onesource.orchestration.airflow_run import prepare_db

    prepare_db(reset=True)
    yield _AIRFLOW_HOME
