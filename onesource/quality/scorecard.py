"""Department scorecards over time, from stored quality results.

Five dimensions per department per day, each the mean over the department's
resources of the day's last run: completeness (cells filled), validity (rows
passing blocking checks), uniqueness (keys unique), timeliness (freshness met)
and consistency (copied values agreeing with their source).  Beside the scores, each
department's objections (数据异议) to its data: open now and, of those, overdue.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from schemas.catalog import Catalog

DIMENSIONS = ("completeness", "validity", "uniqueness", "timeliness", "consistency")


@dataclass
class ScoreRow:
    department: str
    day: str
    resources: int
    scores: dict[str, float | None]

    @property
    def overall(self) -> float | None:
        vals = [v for v in self.scores.values() if v is not None]
        return round(sum(vals) / len(vals), 6) if vals else None


@dataclass
class Scorecard:
    rows: list[ScoreRow] = field(default_factory=list)
    run_id: str | None = None
    # source department -> {"open": n, "overdue": m}: objections to its data, now
    objections: dict[str, dict[str, int]] = field(default_factory=dict)

    def open_objections(self, row: ScoreRow) -> dict[str, int] | None:
        """The department's objection counts on its newest row (None on older rows)."""
        if self.latest().get(row.department) is not row:
            return None
        return self.objections.get(row.department, {"open": 0, "overdue": 0})

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for r in self.rows:
            counts = self.open_objections(r)
            rows.append(
                {
                    **asdict(r),
                    "overall": r.overall,
                    "objections_open": counts["open"] if counts else None,
                    "objections_overdue": counts["overdue"] if counts else None,
                }
            )
        return {
            "run_id": self.run_id,
            "dimensions": list(DIMENSIONS),
            "rows": rows,
            "objections": self.objections,
        }

    def latest(self) -> dict[str, ScoreRow]:
        out: dict[str, ScoreRow] = {}
        for row in self.rows:
            if row.department not in out or row.day > out[row.department].day:
                out[row.department] = row
        return out


def compute(entries: list[dict[str, Any]]) -> Scorecard:
    """``entries``: dicts with department, resource, day (YYYY-MM-DD), at (sortable) and scores."""
    last: dict[tuple[str, str, str], dict[str, Any]] = {}
    for e in sorted(entries, key=lambda e: e["at"]):
        last[(e["department"], e["day"], e["resource"])] = e
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for (dept, day, _res), e in last.items():
        grouped[(dept, day)].append(e)
    rows = []
    for (dept, day), items in sorted(grouped.items()):
        scores: dict[str, float | None] = {}
        for dim in DIMENSIONS:
            vals = [float(i["scores"][dim]) for i in items if i["scores"].get(dim) is not None]
            scores[dim] = round(sum(vals) / len(vals), 6) if vals else None
        rows.append(ScoreRow(dept, day, len(items), scores))
    return Scorecard(rows)


def entries_from_store(store: Any, catalog: Catalog, limit: int = 90) -> list[dict[str, Any]]:
    out = []
    for res in catalog.resources.values():
        for q in store.quality(res.name, limit):
            summary = q["summary"] or {}
            at = q["created_at"]
            out.append(
                {
                    "department": res.provider,
                    "resource": res.name,
                    "day": at.date().isoformat(),
                    "at": at.isoformat(),
                    "scores": summary.get("scores") or {},
                }
            )
    return out


def objection_counts(engine: Any, now: Any = None) -> dict[str, dict[str, int]]:
    """Per source department: objections ``open`` now and, of those, ``overdue``."""
    import sqlalchemy as sa

    from onesource.store.console_models import Objection
    from onesource.store.db import session
    from onesource.store.records import utcnow

    now = now or utcnow()
    late = sa.case((Objection.due_at < now, 1), else_=0)
    query = (
        sa.select(Objection.source_department, sa.func.count(), sa.func.sum(late))
        .where(Objection.status == "open")
        .group_by(Objection.source_department)
    )
    with session(engine) as ses:
        return {
            dept: {"open": int(n), "overdue": int(overdue or 0)}
            for dept, n, overdue in ses.execute(query)
        }


def with_objections(card: Scorecard, engine: Any, now: Any = None) -> Scorecard:
    """``card`` with the objection counts; a department with objections but no scores
    gets a row of today (so an overdue objection is never invisible)."""
    from onesource.store.records import utcnow

    now = now or utcnow()
    card.objections = objection_counts(engine, now)
    known = {r.department for r in card.rows}
    for dept in sorted(set(card.objections) - known):
        card.rows.append(ScoreRow(dept, now.date().isoformat(), 0, dict.fromkeys(DIMENSIONS)))
    return card


def run_scorecard(store: Any = None, catalog: Catalog | None = None) -> Scorecard:
    """Compute the scorecard from the store and keep it with a ``scorecard`` run."""
    from onesource.store import Store

    if catalog is None:
        from onesource.catalog.compiled import load_compiled
        from onesource.settings import get_settings

        catalog = load_compiled(get_settings().catalog)
    store = store or Store.open()
    card = with_objections(compute(entries_from_store(store, catalog)), store.engine)
    with store.begin_run("scorecard", "scorecard") as run:
        card.run_id = run.id
        path = store.write_report(
            "scorecard",
            run.id,
            "scorecard.json",
            json.dumps(card.to_dict(), ensure_ascii=False, indent=1),
        )
        run.finish("succeeded", report_path=path)
    return card


def latest_scorecard(store: Any) -> dict[str, Any] | None:
    """The newest stored scorecard (for the portal), or None."""
    runs = store.runs("scorecard", 1, "succeeded")
    if not runs or not runs[0].report_path:
        return None
    with store.warehouse.open(runs[0].report_path, "rb") as fh:
        card: dict[str, Any] = json.loads(fh.read())
    return card
