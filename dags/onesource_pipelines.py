"""Airflow DAG file of this city's repository: every OneSource DAG of ../catalog.

One ingest DAG per resource, one DAG per release (run when its inputs' assets
update) and the daily quality scorecard. Airflow parses this folder when
``onesource up`` runs from the repository (it points ``DAGS_FOLDER`` here and
``ONESOURCE_CATALOG`` at ``catalog/``); on a cluster, set both to this checkout.
Past ~200 resources, point ``DAGS_FOLDER`` at the hub's sharded loader files
instead: ``python -c "import onesource.dags; print(onesource.dags.FOLDER)"``.
"""

from onesource.orchestration.airflow_dags import (
    build_ingest_dags,
    build_release_dags,
    build_scorecard_dag,
)
from onesource.orchestration.plan import SHARDS

for _shard in range(SHARDS):
    globals().update(build_ingest_dags(_shard))
globals().update(build_release_dags())
globals().update(build_scorecard_dag())
