"""What is sent: one alert, with a stable key naming its occurrence."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal[
    "run-failed",
    "stale",
    "application-overdue",
    "request-overdue",
    "objection-overdue",
    # notices (onesource.notify.notices): events sent once, to console users by role
    "request-new",
    "request-decided",
    "grant-expiring",
    "objection-new",
    "objection-answered",
]
NOTICE_KINDS = frozenset(
    {"request-new", "request-decided", "grant-expiring", "objection-new", "objection-answered"}
)


@dataclass(frozen=True)
class Alert:
    """One thing someone must act on.

    ``key`` identifies the occurrence (a failed run's id, a stale resource's last update,
    an application's id): the same key is not sent twice within the repeat interval, a
    new occurrence is a new key.  ``department`` routes it (None: operators only).
    ``roles``: console users of ``department`` holding one of these roles get it too
    (by the e-mail of their account); a notice (``NOTICE_KINDS``) goes only to them and
    the department's addresses in notify.yaml, and only once.
    """

    kind: Kind
    key: str
    subject: str
    department: str | None
    title: str
    text: str
    details: dict[str, Any] = field(default_factory=dict)
    roles: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
