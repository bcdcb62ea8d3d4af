"""Department scorecards over time, from stored quality results.

Five dimensions per department per day, each the mean over the department's
resources of the day's last run: completeness (cells filled), validity (rows
passing blocking checks), uniqueness (keys unique), timeliness (freshness met)
and consistency (copied values agreeing with their source).
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dimensions": list(DIMENSIONS),
            "rows": [{**asdict(r), "overall": r.overall} for r in self.rows],
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


def run_scorecard(store: Any = None, catalog: Catalog | None = None) -> Scorecard:
    """Compute the scorecard from the store and keep it with a ``scorecard`` run."""
    from onesource.store import Store

    if catalog is None:
        from onesource.catalog.compiled import load_compiled
        from onesource.settings import get_settings

        catalog = load_compiled(get_settings().catalog)
    store = store or Store.open()
    card = compute(entries_from_store(store, catalog))
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
