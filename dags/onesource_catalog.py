"""Airflow DAG file that builds no DAG: it reports an invalid OneSource catalog.

When a catalog file is broken, this file's one import error lists every
problem as file:line; the other DAG files then build nothing and stay quiet.
"""

from onesource.orchestration.airflow_dags import check_catalog

check_catalog()
