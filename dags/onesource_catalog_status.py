"""Airflow DAG file that builds no DAG: it reports an invalid OneSource catalog.

When a catalog file is broken, this file's one import error lists every problem
as file:line, while onesource_pipelines.py keeps building the DAGs from the last
valid catalog.
"""

from onesource.orchestration.airflow_dags import check_catalog

check_catalog()
