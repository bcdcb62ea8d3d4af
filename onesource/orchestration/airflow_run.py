"""Run OneSource DAGs through Airflow in this process (``dag.test()``).

Used by the demo (``onesource demo run``) and the tests.  Every DAG of the
folder is first synced to the metadata DB, so when an ingest run announces a
new version on its asset, Airflow queues the release DAGs that wait for it
(``asset_dag_run_queue``) exactly as it does under a scheduler; ``due_releases``
reads that queue.  Set the ``AIRFLOW__*`` environment before importing this
module (``onesource.orchestration.environment``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import DAG

from schemas.errors import ConfigError

log = logging.getLogger(__name__)
BUNDLE = "dags-folder"


@dataclass
class DagRunReport:
    """What one DAG run did: its state, each task's state, and the asset events it sent."""

    dag_id: str
    state: str
    run_id: str = ""
    tasks: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # [{"uri": ..., "extra": ...}]

    @property
    def ok(self) -> bool:
        return self.state == "success"

    def __str__(self) -> str:
        tasks = ", ".join(f"{t} {s}" for t, s in self.tasks.items())
        text = f"{self.dag_id}: {self.state} ({tasks})"
        for event in self.events:
            extra = event.get("extra") or {}
            if "version" in extra:
                text += f" -> {event['uri']} v{extra['version']}"
            if extra.get("rows_read") is not None:  # an ingest: its counts, once
                text += (
                    f" ({extra.get('rows_read', 0):,} read, {extra.get('rows_good', 0):,} good, "
                    f"{extra.get('rows_quarantined', 0):,} quarantined, "
                    f"{extra.get('rows_unparsed', 0) or 0:,} unparsable)"
                )
        return text


def prepare_db(*, reset: bool = False) -> None:
    """Create or migrate the Airflow metadata DB (``reset`` drops it first)."""
    from airflow.utils import db

    if reset:
        db.resetdb()
    else:
        db.initdb()


def load_dagbag(dags_folder: Path | str | None = None) -> DagBag:
    """Parse the DAG folder; ``ConfigError`` with every import error when a file fails."""
    from airflow import settings

    folder = str(dags_folder or settings.DAGS_FOLDER)
    bag = DagBag(dag_folder=folder, bundle_path=Path(folder), bundle_name=BUNDLE)
    if bag.import_errors:
        text = "\n".join(f"{f}:\n{e}" for f, e in bag.import_errors.items())
        raise ConfigError(f"DAG files failed to import:\n{text}")
    return bag


def sync_dags(bag: DagBag, *, unpause: bool = True) -> None:
    """Write every DAG (and its asset references) to the metadata DB.

    New DAGs start paused and Airflow queues no asset-triggered run for a paused
    DAG; ``unpause`` makes them active, as an operator would in the UI.
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db
    from airflow.utils.session import create_session

    with create_session() as session:
        # Airflow's DagBundlesManager.__init__ has no annotations (airflow 3.3)
        DagBundlesManager().sync_bundles_to_db(session=session)  # type: ignore[no-untyped-call]
    with create_session() as session:
        sync_bag_to_db(bag, BUNDLE, None, session=session)
    if unpause:
        from airflow.models.dag import DagModel
        from sqlalchemy import update

        with create_session() as session:
            session.execute(
                update(DagModel).where(DagModel.dag_id.in_(list(bag.dags))).values(is_paused=False)
            )


def run_dag(dag: DAG, *, retries: int | None = 0) -> DagRunReport:
    """One run of ``dag`` in this process; ``retries`` overrides the tasks' (0: fail fast)."""
    if retries is not None:
        for t in dag.tasks:
            t.retries = retries
    dr = dag.test()
    return report(dag.dag_id, dr.run_id)


def report(dag_id: str, run_id: str) -> DagRunReport:
    """Read a finished run's state, task states and asset events from the metadata DB."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        dr = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        ).one()
        tis = dr.get_task_instances(session=session)
        events = session.execute(
            select(AssetModel.uri, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run_id)
            .order_by(AssetEvent.id)
        ).all()
        return DagRunReport(
            dag_id=dag_id,
            state=str(getattr(dr.state, "value", dr.state)),
            run_id=run_id,
            tasks={ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in tis},
            events=[{"uri": uri, "extra": dict(extra or {})} for uri, extra in events],
        )


def queued_assets(dag_id: str) -> set[str]:
    """URIs of the assets with an event not yet consumed by a run of ``dag_id``."""
    from airflow.models.asset import AssetDagRunQueue, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetModel.uri)
            .join(AssetDagRunQueue, AssetDagRunQueue.asset_id == AssetModel.id)
            .where(AssetDagRunQueue.target_dag_id == dag_id)
        ).all()
    return set(rows)


def consume_queue(dag_id: str) -> None:
    """Clear ``dag_id``'s asset queue, as the scheduler does when it starts the run."""
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == dag_id))
