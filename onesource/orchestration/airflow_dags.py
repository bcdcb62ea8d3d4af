"""The one adapter between OneSource and Airflow: DAGs built from the DAG plan.

DAG files in ``onesource/dags/`` are three-line loaders calling ``build_ingest_dags``,
``build_release_dags`` and ``build_scorecard_dag``.  Parsing imports only
Airflow's SDK and ``onesource.orchestration.plan``; task bodies import the
pipeline when they run.  A worker that runs one task builds only that task's DAG
(``get_parsing_context``).

Retries: a ``TransientError`` (source down, timeout, 5xx) propagates and is
retried 3 times with exponential backoff; any other ``OneSourceError`` fails the
task at once (``AirflowFailException``).  A run with nothing new is skipped, so
no asset event wakes the releases downstream.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import operator
import os
import time
from pathlib import Path
from typing import Any, TypedDict

from airflow.sdk import DAG, Asset, get_parsing_context, task

from onesource.orchestration.plan import (
    MAX_DAGS_PER_FILE,
    SCORECARD_DAG_ID,
    SCORECARD_SCHEDULE,
    SHARDS,
    DagPlan,
    IngestPlan,
    ReleasePlan,
    _setting,
    catalog_root,
    load_plan,
)
from schemas.errors import CatalogError, ConfigError, TransientError

log = logging.getLogger(__name__)

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


class _Retries(TypedDict):
    retries: int
    retry_delay: dt.timedelta
    retry_exponential_backoff: float
    max_retry_delay: dt.timedelta


def first_retry_delay() -> dt.timedelta:
    """``ONESOURCE_RETRY_DELAY_S`` (read at parse time): the first retry's delay, default 60 s.

    Later retries double it, up to 30 minutes.  The cluster test shortens it.
    """
    raw = os.environ.get("ONESOURCE_RETRY_DELAY_S", "").strip() or "60"
    try:
        return dt.timedelta(seconds=float(raw))
    except ValueError:
        raise ConfigError(
            f"ONESOURCE_RETRY_DELAY_S={raw!r} is not a number of seconds", hint="e.g. 60"
        ) from None


TRANSIENT_RETRIES: _Retries = {
    "retries": 3,
    "retry_delay": first_retry_delay(),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(minutes=30),
}
_STATS_READY = False


def on_failure(context: Any) -> None:
    """``on_failure_callback`` of every generated task: count it, alert through ``onesource.notify``.

    Runs where the task ran, after its last try.  Imports the notifier here, never at parse time.
    """
    ti = context.get("ti") or context.get("task_instance")
    dag_id = str(getattr(ti, "dag_id", "") or "")
    kind, _, subject = dag_id.partition("__")
    if not subject:
        kind, subject = "dag", dag_id
    emit_metrics(kind, subject, failures=1)
    from onesource.notify.failures import task_failed

    task_failed(
        kind, subject, str(context.get("run_id") or ""), str(context.get("exception") or "")
    )


def emit_metrics(kind: str, subject: str, *, seconds: float | None = None, **counts: Any) -> None:
    """Pipeline figures through Airflow's own metrics client (StatsD or OpenTelemetry per
    Airflow's ``[metrics]`` config; nothing when neither is on): ``onesource.<kind>.<subject>.<name>``
    counters, and ``.duration`` as a timing."""
    global _STATS_READY
    try:
        from airflow.sdk.observability import stats

        if not _STATS_READY:  # task processes initialize it; dag.test() in-process does not
            from airflow.sdk.configuration import conf
            from airflow.sdk.observability.metrics import stats_utils

            stats.initialize(
                factory=stats_utils.get_stats_factory(),
                export_legacy_names=conf.getboolean("metrics", "legacy_names_on", fallback=True),
            )
            _STATS_READY = True
        base = f"onesource.{kind}.{stats.normalize_name_for_stats(subject, log_warning=False)}"
        tags = {"kind": kind, "subject": subject}
        for name, value in counts.items():
            if isinstance(value, int | float) and value > 0:
                stats.incr(f"{base}.{name}", count=int(value), tags=tags)
        if seconds is not None:
            stats.timing(f"{base}.duration", dt.timedelta(seconds=seconds), tags=tags)
    except Exception:  # metrics never fail a task
        log.warning("OneSource metrics not emitted for %s %s", kind, subject, exc_info=True)


DEFAULT_ARGS: dict[str, Any] = {
    "owner": "onesource",
    "depends_on_past": False,
    "on_failure_callback": on_failure,
}


def check_catalog() -> None:
    """Raise ONE clear error listing the catalog's problems as file:line (or return).

    Cheap when nothing changed: the problems of a broken catalog are cached by its
    fingerprint (``onesource.catalog.compiled.catalog_state``).
    """
    from onesource.catalog.compiled import catalog_state

    root = catalog_root()
    state = catalog_state(root, Path(_setting("home")) / "cache")
    if state.status == "ok":
        return
    text = "\n".join(f"  {problem}" for problem in state.problems)
    then = (
        f"the OneSource DAGs keep running from the last valid catalog ({state.serving})"
        if state.serving
        else "no OneSource DAGs are built until they are fixed"
    )
    raise CatalogError(
        list(state.problems),
        f"the OneSource catalog at {root} has {len(state.problems)} problem(s); {then}:\n{text}",
    )


def load_dag_plan() -> DagPlan | None:
    """The plan of the working catalog, or of the last valid one while it is broken
    (``onesource/dags/onesource_catalog.py`` says why); None when there never was a valid one."""
    try:
        return load_plan(strict=False)
    except (CatalogError, ConfigError, TransientError) as exc:  # transient: never valid yet
        log.warning("OneSource catalog invalid, no DAGs built here: %s", str(exc)[:200])
        return None


def _wanted() -> str | None:
    """The one DAG a worker is about to run, or None when building them all."""
    return get_parsing_context().dag_id


def build_ingest_dags(shard: int, shards: int = SHARDS) -> dict[str, DAG]:
    """The ingest DAGs of loader file ``shard`` (``onesource/dags/ingest_shard_<shard>.py``)."""
    plan = load_dag_plan()
    if plan is None:
        return {}
    items = plan.shard(shard, shards)
    if len(items) > MAX_DAGS_PER_FILE:
        log.warning(
            "ingest shard %d holds %d DAGs (> %d): add loader files and raise SHARDS",
            shard,
            len(items),
            MAX_DAGS_PER_FILE,
        )
    wanted = _wanted()
    return {i.dag_id: ingest_dag(i) for i in items if wanted in (None, i.dag_id)}


def build_release_dags() -> dict[str, DAG]:
    """One DAG per release, scheduled on the curated assets of its inputs."""
    plan = load_dag_plan()
    if plan is None:
        return {}
    wanted = _wanted()
    return {r.dag_id: release_dag(r) for r in plan.releases if wanted in (None, r.dag_id)}


def build_scorecard_dag() -> dict[str, DAG]:
    """The daily quality scorecard DAG."""
    if _wanted() not in (None, SCORECARD_DAG_ID):
        return {}
    with DAG(
        dag_id=SCORECARD_DAG_ID,
        schedule=SCORECARD_SCHEDULE,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["onesource", "quality"],
        doc_md="Daily quality scorecard of every resource (freshness, pass rates, rejections).",
    ) as d:

        @task(task_id="scorecard", retries=1, retry_delay=dt.timedelta(minutes=5))
        def scorecard() -> dict[str, Any]:
            from onesource.orchestration.tasks import run_scorecard

            return _finish(run_scorecard(), None, None)

        scorecard()
    return {d.dag_id: d}


def ingest_dag(item: IngestPlan) -> DAG:
    """Pull one resource on its update cycle; announce each committed version on its asset."""
    asset = Asset(uri=item.asset_uri, group="onesource-curated")
    doc = (
        f"**{item.title}** (`{item.resource}`, {item.department}), update cycle "
        f"`{item.update_cycle}`, connector `{item.connector}`.\n\n"
        f"Each committed version is announced on `{item.asset_uri}` with its quality summary."
    )
    if item.pushed:
        doc += "\n\nPushed through the exchange API: trigger this DAG after a push to announce it."
    with DAG(
        dag_id=item.dag_id,
        schedule=item.schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["onesource", "ingest", item.department, item.update_cycle, item.connector],
        doc_md=doc,
    ) as d:
        resource = item.resource
        if item.pushed:

            @task(task_id="announce", outlets=[asset])
            def announce(*, outlet_events: Any = None) -> dict[str, Any]:
                from onesource.orchestration.tasks import announce_pushed

                return _finish(announce_pushed(resource), outlet_events, asset)

            announce()
        else:

            @task(task_id="ingest", outlets=[asset], **TRANSIENT_RETRIES)
            def ingest(*, outlet_events: Any = None, run_id: str | None = None) -> dict[str, Any]:
                """Extract from the department, check quality, commit a version."""
                from onesource.orchestration.tasks import run_ingest

                use_airflow_connections()
                started = time.monotonic()
                outcome = run_ingest(resource, trigger=f"airflow {run_id or ''}".strip())
                _ingest_metrics(resource, outcome, time.monotonic() - started)
                return _finish(outcome, outlet_events, asset)

            ingest()
    return d


def release_dag(item: ReleasePlan) -> DAG:
    """Rebuild one release when every input resource announced a new version."""
    inputs = [Asset(uri=uri, group="onesource-curated") for uri in item.input_asset_uris]
    schedule: Any = functools.reduce(operator.and_, inputs) if inputs else "@daily"
    output = Asset(uri=item.asset_uri, group="onesource-open")
    with DAG(
        dag_id=item.dag_id,
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["onesource", "release", item.publisher],
        doc_md=(
            f"**{item.title}** (`{item.release}`): runs when "
            f"{', '.join(item.inputs) or 'the day'} have new versions; publishes `{item.asset_uri}`."
        ),
    ) as d:
        release = item.release

        @task(task_id="build_release", outlets=[output], **TRANSIENT_RETRIES)
        def build_release(*, outlet_events: Any = None) -> dict[str, Any]:
            """Anonymize, gate and publish a new version of the release."""
            from onesource.orchestration.tasks import run_release

            started = time.monotonic()
            outcome = run_release(release)
            committed = int(outcome.state == "succeeded" and bool(outcome.extra.get("version")))
            emit_metrics(
                "release",
                release,
                seconds=time.monotonic() - started,
                versions_committed=committed,
                rows=outcome.extra.get("rows") or 0,
            )
            return _finish(outcome, outlet_events, output)

        build_release()
    return d


def _ingest_metrics(resource: str, outcome: Any, seconds: float) -> None:
    extra = outcome.extra
    emit_metrics(
        "ingest",
        resource,
        seconds=seconds,
        rows_read=extra.get("rows_read") or 0,
        rows_good=extra.get("rows_good") or 0,
        rows_quarantined=extra.get("rows_quarantined") or 0,
        versions_committed=int(outcome.state == "succeeded" and bool(extra.get("version"))),
    )


def _finish(outcome: Any, outlet_events: Any, asset: Asset | None) -> dict[str, Any]:
    """Turn an ``Outcome`` into Airflow's terms: fail without retry, skip, or succeed."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    if outcome.state == "failed":
        raise AirflowFailException(outcome.message)
    if outcome.state == "skipped":
        raise AirflowSkipException(outcome.message)
    if asset is not None and outlet_events is not None:
        outlet_events[asset].extra = outcome.extra
    log.info("%s", outcome.message)
    return dict(outcome.extra)


def airflow_connection(conn_id: str) -> Any:
    """An Airflow connection (or secrets-backend entry) as a ``connectors`` Connection, or None."""
    try:
        from airflow.sdk import Connection

        conn = Connection.get(conn_id)
    except Exception:  # not found, or no task context to ask the API server
        return None
    from connectors.connection import parse_connection

    fields = {
        "conn_type": conn.conn_type,
        "host": conn.host,
        "port": conn.port,
        "login": conn.login,
        "password": conn.password,
        "schema": conn.schema,
        "extra": conn.extra_dejson,
    }
    return parse_connection(conn_id, fields, origin=f"airflow connection {conn_id}")


@functools.cache
def use_airflow_connections() -> bool:
    """Let connectors resolve connection ids through Airflow (once per process)."""
    try:
        from connectors.connection import register_lookup
    except ImportError:
        return False  # connectors fall back to ONESOURCE_CONN_<ID> variables
    register_lookup(airflow_connection)
    return True
