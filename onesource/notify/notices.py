"""Notices: what happened that someone in a department must act on, sent once.

- ``request-new``: an access application waiting for the owning department's approvers;
- ``request-decided``: approved or refused, to the applying department's officers;
- ``grant-expiring``: a grant ending within ``expiring_days``, to the holder's officers;
- ``objection-new``: an objection (数据异议) open, to the source department's approvers;
- ``objection-answered``: corrected or rejected, to the raising department's officers.

The console delivers a notice right after the action (``deliver``); ``onesource alerts
notify --send`` (cron) sends what is still undelivered, such as after a mail outage: a
notice is recorded per target once delivered and never sent twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from onesource.notify.message import Alert
from onesource.store.console_models import Objection
from onesource.store.db import session
from onesource.store.exchange_models import AccessRequest, Grant

DECIDED = ("approved", "denied")


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value is not None else "-"


def _fields(values: Any) -> str:
    return ", ".join(map(str, values or []))


def request_new(r: AccessRequest) -> Alert:
    return Alert(
        kind="request-new",
        key=f"request-new:{r.id}",
        subject=r.id,
        department=r.owner,
        title=f"{r.requester} 申请使用 {r.resource} / new application",
        text=(
            f"{r.requester} 申请使用 {r.resource} 的字段 {_fields(r.fields)}，用途：{r.purpose}。"
            f"请于 {_day(r.due_at)} 前审核（共享工作台 /console/review）。\n"
            f"{r.requester} applied for {r.resource} ({_fields(r.fields)}); answer by "
            f"{_day(r.due_at)}."
        ),
        details={"resource": r.resource, "requester": r.requester, "due_at": _day(r.due_at)},
        roles=("approver",),
    )


def request_decided(r: AccessRequest) -> Alert:
    verdict = "批准" if r.status == "approved" else "不予批准"
    return Alert(
        kind="request-decided",
        key=f"request-decided:{r.id}",
        subject=r.id,
        department=r.requester,
        title=f"{r.resource} 的申请已{verdict} / application {r.status}",
        text=(
            f"{r.owner} 已{verdict}你部门对 {r.resource} 的申请 {r.id}。"
            + (f"说明：{r.note}" if r.note else "")
            + f"\nYour application {r.id} for {r.resource} was {r.status} by {r.owner}."
        ),
        details={"resource": r.resource, "owner": r.owner, "status": r.status},
        roles=("officer",),
    )


def grant_expiring(g: Grant) -> Alert:
    return Alert(
        kind="grant-expiring",
        key=f"grant-expiring:{g.id}:{_day(g.valid_until)}",
        subject=g.id,
        department=g.department,
        title=f"{g.resource} 的授权将于 {_day(g.valid_until)} 到期 / grant expiring",
        text=(
            f"你部门对 {g.resource}（{_fields(g.fields)}）的授权将于 {_day(g.valid_until)} 到期；"
            f"如需继续使用请重新申请。\nYour grant on {g.resource} ends {_day(g.valid_until)}."
        ),
        details={"resource": g.resource, "valid_until": _day(g.valid_until)},
        roles=("officer",),
    )


def objection_new(o: Objection) -> Alert:
    """The record's key, the values and the reason stay in the console: a notice reaches
    mail boxes and webhooks' chat rooms, and the key may be a citizen's identity number."""
    return Alert(
        kind="objection-new",
        key=f"objection-new:{o.id}",
        subject=o.id,
        department=o.source_department,
        title=f"{o.raised_by} 对 {o.resource}.{o.field} 提出数据异议 / new objection",
        text=(
            f"{o.raised_by} 认为 {o.resource} 一条记录的 {o.field} 有误（异议 {o.id}），"
            f"请于 {_day(o.due_at)} 前答复（共享工作台 /console/objections/{o.id}）。\n"
            f"{o.raised_by} objects to {o.resource}.{o.field} of one record (objection {o.id}, "
            f"/console/objections/{o.id}); answer by {_day(o.due_at)}: corrected in version N, "
            "or rejected with a reason."
        ),
        details={"resource": o.resource, "field": o.field, "due_at": _day(o.due_at)},
        roles=("approver",),
    )


def objection_answered(o: Objection) -> Alert:
    verdict = (
        f"已在版本 {o.corrected_version} 更正" if o.status == "corrected" else "未予采纳（驳回）"
    )
    return Alert(
        kind="objection-answered",
        key=f"objection-answered:{o.id}",
        subject=o.id,
        department=o.raised_by,
        title=f"数据异议 {o.id} {verdict} / objection {o.status}",
        text=(
            f"{o.source_department} 答复你部门对 {o.resource}.{o.field} 的异议：{verdict}"
            f"（答复内容见 /console/objections/{o.id}）。"
            + f"\nObjection {o.id} was {o.status}"
            + (f" in version {o.corrected_version}" if o.corrected_version else "")
            + f" by {o.source_department}."
        ),
        details={"status": o.status, "corrected_version": o.corrected_version},
        roles=("officer",),
    )


def pending_notices(
    engine: sa.Engine,
    now: datetime,
    *,
    lookback: timedelta = timedelta(days=7),
    expiring_days: int = 14,
) -> list[Alert]:
    """Every notice still relevant now (dispatch skips those already delivered)."""
    since = now - lookback
    with session(engine) as ses:
        new = ses.scalars(
            sa.select(AccessRequest).where(
                AccessRequest.status == "pending", AccessRequest.requested_at >= since
            )
        ).all()
        decided = ses.scalars(
            sa.select(AccessRequest).where(
                AccessRequest.status.in_(DECIDED), AccessRequest.decided_at >= since
            )
        ).all()
        expiring = ses.scalars(
            sa.select(Grant).where(
                Grant.revoked_at.is_(None),
                Grant.valid_until > now,
                Grant.valid_until <= now + timedelta(days=expiring_days),
            )
        ).all()
        objections = ses.scalars(
            sa.select(Objection).where(
                sa.or_(
                    Objection.status == "open",
                    Objection.answered_at >= since,
                )
            )
        ).all()
    out = [request_new(r) for r in new] + [request_decided(r) for r in decided]
    out += [grant_expiring(g) for g in expiring]
    out += [objection_new(o) if o.status == "open" else objection_answered(o) for o in objections]
    return out


def deliver(alerts: list[Alert], engine: sa.Engine, catalog: Any = None) -> Any:
    """Send ``alerts`` now through notify.yaml's channels; None when nothing is configured.

    Never raises for a delivery problem (the action is done; cron retries the notice).
    """
    import logging

    from onesource.notify.config import load_config
    from onesource.notify.dispatch import dispatch

    try:
        config = load_config()
        if config.smtp is None and not config.webhooks:
            return None
        return dispatch(alerts, config, engine, catalog)
    except Exception:  # a broken notify.yaml must not undo the department's action
        logging.getLogger("onesource.notify").exception("notice not delivered")
        return None


def for_request(engine: sa.Engine, request_id: str) -> list[Alert]:
    """The notice an access application's current state calls for (new or decided)."""
    with session(engine) as ses:
        row = ses.get(AccessRequest, request_id)
    if row is None:
        return []
    if row.status == "pending":
        return [request_new(row)]
    return [request_decided(row)] if row.status in DECIDED else []


def for_objection(engine: sa.Engine, objection_id: str) -> list[Alert]:
    """The notice an objection's current state calls for (new, or answered)."""
    with session(engine) as ses:
        row = ses.get(Objection, objection_id)
    if row is None:
        return []
    return [objection_new(row) if row.status == "open" else objection_answered(row)]
