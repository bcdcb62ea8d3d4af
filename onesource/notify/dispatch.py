"""Route alerts to their recipients and remember what was sent.

Each (alert key, target) pair is recorded in ``alerts_sent`` once delivered; it is sent
again only after ``repeat_hours`` (never with 0).  A delivery that fails is not recorded,
so the next run tries again.  Targets: ``email:<address>`` (the department's stewards from
the catalog, the department's addresses from ``notify.yaml`` and the operators) and
``webhook:<name>``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from onesource.notify.channels import DeliveryError, post_webhook, send_email
from onesource.notify.config import NotifyConfig
from onesource.notify.message import NOTICE_KINDS, Alert
from onesource.store.console_models import ConsoleAccount
from onesource.store.db import session
from onesource.store.models import AlertSent
from onesource.store.records import utcnow

log = logging.getLogger("onesource.notify")


@dataclass
class Delivery:
    """What one dispatch did: sent, skipped as already sent, failed (with the reason)."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": [{"key": k, "target": t} for k, t in self.sent],
            "skipped": [{"key": k, "target": t} for k, t in self.skipped],
            "failed": [{"key": k, "target": t, "error": e} for k, t, e in self.failed],
        }


def department_emails(config: NotifyConfig, catalog: Any, department: str | None) -> list[str]:
    """The addresses that get ``department``'s alerts (operators included), deduplicated."""
    found: list[str] = []
    if department is not None:
        dept = getattr(catalog, "departments", {}).get(department) if catalog else None
        if config.use_catalog_stewards and dept is not None:
            found += [s.email for s in dept.stewards if getattr(s, "email", None)]
        contacts = config.departments.get(department)
        if contacts is not None:
            found += contacts.emails
    found += config.operators
    return list(dict.fromkeys(found))


def console_emails(engine: sa.Engine, department: str | None, roles: Iterable[str]) -> list[str]:
    """E-mails of the active console accounts of ``department`` holding one of ``roles``."""
    wanted = set(roles)
    if department is None or not wanted:
        return []
    with session(engine) as ses:
        rows = ses.scalars(
            sa.select(ConsoleAccount).where(
                ConsoleAccount.department == department,
                ConsoleAccount.disabled_at.is_(None),
                ConsoleAccount.email.is_not(None),
            )
        ).all()
        return sorted({r.email for r in rows if wanted & set(r.roles or ()) and r.email})


def recipients(config: NotifyConfig, catalog: Any, alert: Alert, engine: sa.Engine) -> list[str]:
    """Who gets ``alert`` by e-mail: a notice its department's people by role (and the
    department's addresses in notify.yaml); an alert also the catalog stewards and operators."""
    if alert.kind in NOTICE_KINDS:
        contacts = config.departments.get(alert.department or "")
        found = list(contacts.emails) if contacts is not None else []
    else:
        found = department_emails(config, catalog, alert.department)
    found += console_emails(engine, alert.department, alert.roles)
    return list(dict.fromkeys(found))


def _due(engine: sa.Engine, key: str, target: str, repeat: timedelta | None) -> bool:
    with session(engine) as ses:
        row = ses.get(AlertSent, (key, target))
    if row is None:
        return True
    return repeat is not None and utcnow() - row.last_sent_at >= repeat


def _record(engine: sa.Engine, alert: Alert, target: str, now: datetime) -> None:
    try:
        _upsert(engine, alert, target, now)
    except sa.exc.IntegrityError:  # another check recorded the same delivery at the same time
        log.info("alert %s to %s recorded by another process", alert.key, target)


def _upsert(engine: sa.Engine, alert: Alert, target: str, now: datetime) -> None:
    with session(engine, write=True) as ses:
        row = ses.get(AlertSent, (alert.key, target))
        if row is None:
            ses.add(
                AlertSent(
                    key=alert.key,
                    target=target,
                    kind=alert.kind,
                    subject=alert.subject[:200],
                    department=alert.department,
                    first_sent_at=now,
                    last_sent_at=now,
                    sends=1,
                )
            )
        else:
            row.last_sent_at = now
            row.sends += 1


def dispatch(
    alerts: Iterable[Alert], config: NotifyConfig, engine: sa.Engine, catalog: Any = None
) -> Delivery:
    """Send every alert to every target that has not had it within the repeat interval."""
    repeat = timedelta(hours=config.repeat_hours) if config.repeat_hours > 0 else None
    out = Delivery()
    for alert in alerts:
        again = None if alert.kind in NOTICE_KINDS else repeat  # a notice is sent once
        if config.smtp is not None:
            for address in recipients(config, catalog, alert, engine):
                target = f"email:{address}"
                if not _due(engine, alert.key, target, again):
                    out.skipped.append((alert.key, target))
                    continue
                try:
                    send_email(config.smtp, [address], f"[OneSource] {alert.title}", alert.text)
                except DeliveryError as exc:
                    log.warning("alert %s to %s not delivered: %s", alert.key, target, exc)
                    out.failed.append((alert.key, target, str(exc)))
                    continue
                _record(engine, alert, target, utcnow())
                out.sent.append((alert.key, target))
        for hook in config.webhooks:
            if not hook.wants(alert.department, alert.kind):
                continue
            target = f"webhook:{hook.name}"
            if not _due(engine, alert.key, target, again):
                out.skipped.append((alert.key, target))
                continue
            try:
                post_webhook(hook, {"alert": alert.to_dict(), "sent_at": utcnow().isoformat()})
            except DeliveryError as exc:
                log.warning("alert %s to %s not delivered: %s", alert.key, target, exc)
                out.failed.append((alert.key, target, str(exc)))
                continue
            _record(engine, alert, target, utcnow())
            out.sent.append((alert.key, target))
    return out
