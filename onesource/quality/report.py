"""Quality reports: JSON for machines, self-contained HTML for people."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from typing import Any


@dataclass
class CheckResult:
    id: str
    kind: str
    field: str
    severity: str
    description: str
    checked: int
    failed: int
    sample_keys: list[str] = dc_field(default_factory=list)


@dataclass
class BatchCheck:
    id: str
    severity: str
    passed: bool
    detail: str


@dataclass
class QualityReport:
    resource: str
    provider: str
    title: str
    generated_at: str
    rows_checked: int
    rows_passed: int
    rows_quarantined: int
    failure_share: float
    rejection_threshold: float
    rejected: bool
    rejection_reason: str | None
    checks: list[CheckResult]
    batch_checks: list[BatchCheck]
    scores: dict[str, float | None]
    engine: str = "arrow"
    run_id: str | None = None
    consistency: dict[str, Any] | None = None

    @property
    def warnings(self) -> int:
        return sum(c.failed for c in self.checks if c.severity == "warning")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["warnings"] = self.warnings
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1, default=str)


def render_html(report: QualityReport | dict[str, Any]) -> str:
    """A self-contained HTML page: what failed, how many, examples (中文 / English)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    data = report.to_dict() if isinstance(report, QualityReport) else report
    env = Environment(
        loader=PackageLoader("onesource.quality", "templates"), autoescape=select_autoescape()
    )
    return env.get_template("report.html").render(r=data)
