"""What is sent: one alert, with a stable key naming its occurrence."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["run-failed", "stale", "application-overdue", "request-overdue", "objection-overdue"]


@dataclass(frozen=True)
class Alert:
    """One thing someone must act on.

    ``key`` identifies the occurrence (a failed run's id, a stale resource's last update,
    an application's id): the same key is not sent twice within the repeat interval, a
    new occurrence is a new key.  ``department`` routes it (None: operators only).
    """

    kind: Kind
    key: str
    subject: str
    department: str | None
    title: str
    text: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
