"""The alert of a failed Airflow task (``on_failure_callback`` of the generated DAGs).

The alert is keyed by the failed run in the hub's store when there is one (the same key
``onesource alerts check`` uses, so a cron check after the callback sends nothing twice),
else by Airflow's run id.  Never raises: a callback that fails would hide the task's error.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

log = logging.getLogger("onesource.notify")


def task_failed(kind: str, subject: str, airflow_run: str, error: str) -> Any:
    """Send the alert of a failed ingest or release task; the ``Delivery`` (None on error)."""
    try:
        import sqlalchemy as sa

        from onesource.catalog.compiled import load_serving
        from onesource.notify.checks import run_failed_alert
        from onesource.notify.config import load_config
        from onesource.notify.dispatch import dispatch
        from onesource.notify.message import Alert
        from onesource.settings import get_settings
        from onesource.store import Store
        from onesource.store.db import session
        from onesource.store.models import Run
        from onesource.store.records import utcnow

        store = Store.open()
        catalog = load_serving(get_settings().catalog)
        with session(store.engine) as ses:
            run = ses.scalars(
                sa.select(Run)
                .where(
                    Run.kind == kind,
                    Run.subject == subject,
                    Run.started_at >= utcnow() - timedelta(days=1),
                )
                .order_by(Run.started_at.desc())
                .limit(1)
            ).first()
        if run is not None and run.status in ("failed", "rejected", "killed"):
            alert = run_failed_alert(run, catalog=catalog)
        else:  # failed before the pipeline recorded a run (bad config, source down, ...)
            department = None
            if kind == "release" and subject in catalog.releases:
                department = catalog.releases[subject].publisher
            elif subject in catalog.resources:
                department = catalog.resources[subject].provider
            alert = Alert(
                kind="run-failed",
                key=f"run-failed:{kind}:{subject}:airflow:{airflow_run}",
                subject=subject,
                department=department,
                title=f"{kind} {subject} 失败 / failed in Airflow",
                text=f"{kind} {subject}: Airflow run {airflow_run} failed.\n{error}",
                details={"airflow_run": airflow_run, "error": error[:1000]},
            )
        return dispatch([alert], load_config(), store.engine, catalog)
    except Exception:
        log.exception("failure alert for %s %s not sent", kind, subject)
        return None
