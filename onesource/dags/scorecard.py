"""Airflow DAG file: the daily quality scorecard DAG."""

from onesource.orchestration.airflow_dags import build_scorecard_dag

globals().update(build_scorecard_dag())
