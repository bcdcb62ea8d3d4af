"""What is late or broken, as alerts: ``onesource alerts check`` and the Airflow callback.

- ``stale``: a resource whose last successful ingest or push is older than its update
  cycle's maximum age times ``timeliness_factor`` (``irregular`` resources never are);
  a resource never ingested counts from nothing (``last update: never``).
- ``application-overdue``: a consumer application (restricted open data) still pending
  after its ``due_at`` (10 working days, ``onesource.web.portal.applications``).
- ``request-overdue``: a department's access request still pending after its ``due_at``.
- ``objection-overdue``: an objection (数据异议, ``onesource.exchange.objections``) open
  after its ``due_at``; also to the source department's approvers in the console.
- ``run-failed``: the newest run of an ingest, push or release failed, was rejected by its
  quality gate or was killed (within ``lookback``), keyed by the run id.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from onesource.notify.message import Alert
from onesource.store.console_models import Objection
from onesource.store.db import session
from onesource.store.exchange_models import AccessRequest
from onesource.store.models import ConsumerApplication, Run

FAILED = ("failed", "rejected", "killed")
RUN_KINDS = ("ingest", "push", "release")


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "never"


def stale_resources(
    engine: sa.Engine, catalog: Any, now: datetime, factor: float = 1.5
) -> list[Alert]:
    """Resources past their update cycle."""
    with session(engine) as ses:
        last = dict(
            ses.execute(
                sa.select(Run.subject, sa.func.max(Run.finished_at))
                .where(Run.kind.in_(("ingest", "push")), Run.status == "succeeded")
                .group_by(Run.subject)
            )
            .tuples()
            .all()
        )
    out = []
    for name, res in sorted(catalog.resources.items()):
        max_age = res.update_cycle.max_age_days
        if max_age is None:
            continue
        allowed = timedelta(days=max_age * factor)
        updated = last.get(name)
        if updated is not None and updated.tzinfo is None:
            updated = updated.replace(tzinfo=UTC)
        if updated is not None and now - updated <= allowed:
            continue
        cycle = res.update_cycle.value
        out.append(
            Alert(
                kind="stale",
                key=f"stale:{name}:{_iso(updated)}",
                subject=name,
                department=res.provider,
                title=f"{name} 超过更新周期未更新 / past its {cycle} update cycle",
                text=(
                    f"资源 {name}（{res.title}）的更新周期为 {cycle}，最近一次成功更新：{_iso(updated)}。\n"
                    f"Resource {name} ({res.provider}) updates {cycle}; last successful "
                    f"update: {_iso(updated)}; allowed age {allowed}."
                ),
                details={"cycle": cycle, "last_update": _iso(updated)},
            )
        )
    return out


def overdue_applications(engine: sa.Engine, now: datetime) -> list[Alert]:
    """Consumer applications and department access requests pending past their deadline."""
    out = []
    with session(engine) as ses:
        apps = ses.scalars(
            sa.select(ConsumerApplication).where(
                ConsumerApplication.status == "pending", ConsumerApplication.due_at < now
            )
        ).all()
        reqs = ses.scalars(
            sa.select(AccessRequest).where(
                AccessRequest.status == "pending", AccessRequest.due_at < now
            )
        ).all()
    for app in apps:
        out.append(
            Alert(
                kind="application-overdue",
                key=f"application-overdue:{app.id}",
                subject=app.id,
                department=app.department,
                title=f"开放数据申请 {app.id} 已超过办理期限 / application past its deadline",
                text=(
                    f"{app.organisation} 的申请 {app.id}（{', '.join(map(str, app.datasets))}）"
                    f"应于 {_iso(app.due_at)} 前答复。\nApplication {app.id} was due "
                    f"{_iso(app.due_at)}: approve or refuse it (onesource consumer approve|refuse)."
                ),
                details={"due_at": _iso(app.due_at), "datasets": list(app.datasets)},
            )
        )
    for req in reqs:
        out.append(
            Alert(
                kind="request-overdue",
                key=f"request-overdue:{req.id}",
                subject=req.id,
                department=req.owner,
                title=f"共享申请 {req.id} 已超过办理期限 / access request past its deadline",
                text=(
                    f"{req.requester} 申请 {req.resource} 的字段 {', '.join(map(str, req.fields))}，"
                    f"应于 {_iso(req.due_at)} 前答复。\nAccess request {req.id} from "
                    f"{req.requester} for {req.resource} was due {_iso(req.due_at)}."
                ),
                details={"due_at": _iso(req.due_at), "requester": req.requester},
            )
        )
    return out


def overdue_objections(engine: sa.Engine, now: datetime) -> list[Alert]:
    """Objections (数据异议) still open past ``due_at``: the source department must answer."""
    with session(engine) as ses:
        rows = ses.scalars(
            sa.select(Objection)
            .where(Objection.status == "open", Objection.due_at < now)
            .order_by(Objection.due_at, Objection.id)
        ).all()
    return [
        Alert(
            kind="objection-overdue",
            key=f"objection-overdue:{o.id}",
            subject=o.id,
            department=o.source_department,
            title=f"数据异议 {o.id} 已超过答复期限 / objection past its deadline",
            # the record's key (an identity number) stays in the console: alerts reach mail
            # boxes and webhooks' chat rooms
            text=(
                f"{o.raised_by} 对 {o.resource}.{o.field} 提出的异议 {o.id}"
                f"应于 {_iso(o.due_at)} 前答复（/console/objections/{o.id}）。\nObjection {o.id} "
                f"from {o.raised_by} on {o.resource}.{o.field} was due {_iso(o.due_at)}: "
                f"answer it (console: /console/objections/{o.id}, or onesource objection answer)."
            ),
            details={"due_at": _iso(o.due_at), "raised_by": o.raised_by, "resource": o.resource},
            roles=("approver",),
        )
        for o in rows
    ]


def failed_runs(
    engine: sa.Engine, now: datetime, catalog: Any = None, lookback: timedelta = timedelta(days=7)
) -> list[Alert]:
    """The newest run of each ingest/push/release subject, when it did not succeed."""
    newest = (
        sa.select(Run.kind, Run.subject, sa.func.max(Run.started_at).label("started"))
        .where(Run.kind.in_(RUN_KINDS), Run.started_at >= now - lookback)
        .group_by(Run.kind, Run.subject)
        .subquery()
    )
    query = sa.select(Run).join(
        newest,
        (Run.kind == newest.c.kind)
        & (Run.subject == newest.c.subject)
        & (Run.started_at == newest.c.started),
    )
    with session(engine) as ses:
        runs = [r for r in ses.scalars(query) if r.status in FAILED]
    return [run_failed_alert(r, catalog=catalog) for r in runs]


def run_failed_alert(run: Run, *, catalog: Any = None) -> Alert:
    """The alert of one failed run (shared by the check and the Airflow callback)."""
    error = f"[{run.error_code}] {run.error_message}" if run.error_code else run.error_message
    department = run.department
    if department is None and catalog is not None:
        if run.kind == "release" and run.subject in catalog.releases:
            department = catalog.releases[run.subject].publisher
        elif run.subject in catalog.resources:
            department = catalog.resources[run.subject].provider
    return Alert(
        kind="run-failed",
        key=f"run-failed:{run.kind}:{run.subject}:{run.id}",
        subject=run.subject,
        department=department,
        title=f"{run.kind} {run.subject} 失败 / {run.status}",
        text=(
            f"{run.kind} {run.subject}: run {run.id} {run.status} at {_iso(run.finished_at)}.\n"
            f"{error or ''}\nReaders keep the previous version."
        ).strip(),
        details={"run_id": run.id, "status": run.status, "error": (error or "")[:1000]},
    )


def check_all(engine: sa.Engine, catalog: Any, now: datetime, factor: float = 1.5) -> list[Alert]:
    """Every alert due now, in a stable order."""
    return (
        failed_runs(engine, now, catalog)
        + stale_resources(engine, catalog, now, factor)
        + overdue_applications(engine, now)
        + overdue_objections(engine, now)
    )
