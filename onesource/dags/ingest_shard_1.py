"""Airflow DAG file: ingest DAGs of the catalog, shard 1 of 8.

Resources are spread over the shard files by a stable hash of their name
(onesource.orchestration.plan.shard_of), so new resources need no new file.
"""

from onesource.orchestration.airflow_dags import build_ingest_dags

globals().update(build_ingest_dags(1))
