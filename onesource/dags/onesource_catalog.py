"""Airflow DAG file that builds no DAG: it reports an invalid OneSource catalog.

When a catalog file is broken, this file's one import error lists every
problem as file:line, while the other DAG files keep building their DAGs from
the last valid catalog (none when there never was one).
"""

from onesource.orchestration.airflow_dags import check_catalog

check_catalog()
