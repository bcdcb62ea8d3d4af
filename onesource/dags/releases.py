"""Airflow DAG file: one DAG per open-data release, run when its inputs' assets update."""

from onesource.orchestration.airflow_dags import build_release_dags

globals().update(build_release_dags())
