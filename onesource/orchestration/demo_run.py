"""Run the demo's pipelines through Airflow in this process: ingests, then releases.

``run_demo_pipelines(home)`` is what ``onesource demo run`` calls after seeding:
each pulled resource's ingest DAG runs once (``dag.test()``); every release
whose input assets Airflow has queued (all inputs announced a new version) then
runs once too.  The Airflow state lives in ``<home>/airflow`` (SQLite), so
``onesource up`` later shows these runs in the Airflow UI.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onesource.orchestration.environment import airflow_env, airflow_home, apply_airflow_env


@dataclass
class DemoSummary:
    """Every DAG run of the demo, and where the results are."""

    rows: list[Any] = field(default_factory=list)  # DagRunReport, or a str for what did not run
    airflow_home: str = ""
    warehouse: str = ""

    @property
    def failed(self) -> list[Any]:
        return [r for r in self.rows if not isinstance(r, str) and not r.ok]

    def __str__(self) -> str:
        # each DAG's line was printed as it finished: the summary only counts them
        ran = sum(1 for r in self.rows if not isinstance(r, str))
        failed = ", ".join(r.dag_id for r in self.failed)
        lines = [f"{ran} DAG runs, {len(self.failed)} failed" + (f" ({failed})" if failed else "")]
        lines.append(f"Airflow state (runs, logs, asset events): {self.airflow_home}")
        lines.append(f"warehouse (curated versions, open releases): {self.warehouse}")
        return "\n".join(lines)


def run_demo_pipelines(
    home: Path | str,
    *,
    resources: list[str] | None = None,
    releases: bool = True,
    echo: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Run the ingest DAGs (all pulled resources, or ``resources``), then the due releases.

    Airflow's environment is pointed at ``<home>/airflow`` before Airflow is
    imported; if Airflow is already imported in this process its configuration
    stays as it is.
    """
    home = Path(home).resolve()
    say = echo or (lambda text: print(text, flush=True))
    if "airflow" not in sys.modules:
        apply_airflow_env(airflow_env(home))
    from onesource.orchestration import airflow_run
    from onesource.orchestration.plan import load_plan
    from onesource.settings import get_settings

    plan = load_plan()
    airflow_run.prepare_db()
    bag = airflow_run.load_dagbag()
    airflow_run.sync_dags(bag)
    summary = DemoSummary(
        airflow_home=str(airflow_home(home)), warehouse=get_settings().warehouse_root
    )
    for item in plan.ingests:
        if item.pushed or (resources is not None and item.resource not in resources):
            continue
        say(f"running {item.dag_id} ...")
        summary.rows.append(_run(airflow_run, bag, item.dag_id))
        say(f"  {summary.rows[-1]}")
    if releases:
        for rel in plan.releases:
            waiting = set(rel.input_asset_uris) - airflow_run.queued_assets(rel.dag_id)
            if waiting or not rel.input_asset_uris:
                line = f"{rel.dag_id}: not due, waiting for {', '.join(sorted(waiting)) or 'its schedule'}"
                summary.rows.append(line)
                say(line)
                continue
            say(f"running {rel.dag_id} (its inputs' assets are updated) ...")
            airflow_run.consume_queue(rel.dag_id)
            summary.rows.append(_run(airflow_run, bag, rel.dag_id))
            say(f"  {summary.rows[-1]}")
    return summary


def _run(airflow_run: Any, bag: Any, dag_id: str) -> Any:
    try:
        return airflow_run.run_dag(bag.dags[dag_id])
    except Exception as exc:  # one broken DAG must not stop the demo
        return airflow_run.DagRunReport(dag_id=dag_id, state=f"error: {exc}")
