"""Charts of statistical (aggregate) releases: totals by category, by district, by month.

Server-rendered SVG, no JavaScript and no chart library: the page works without
scripts and offline, and nothing is loaded from elsewhere.  Each chart is an
``<svg role="img">`` with ``<title>`` and ``<desc>`` (what it shows, the largest
value) and is followed by the same figures as a data table for screen readers and
for copying.  Suppressed cells are left out of the totals, and the chart says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from markupsafe import Markup, escape

from onesource.web.portal.columns import Column
from schemas.release import Release

MAX_BARS = 24
WIDTH = 640


@dataclass
class Series:
    """Totals of one measure along one dimension."""

    dimension: str  # column name
    kind: str  # "month", "district" or "category"
    title: str  # e.g. 按诉求区划
    measure_title: str
    points: list[tuple[str, float]]  # (label, total), in display order
    suppressed: int  # cells left out
    more: int = 0  # categories beyond MAX_BARS, summed into none

    @property
    def id(self) -> str:
        return f"chart-{self.dimension}"


def _kind(col: Column, release: Release) -> str:
    spec = release.columns.get(col.name)
    if spec is not None and getattr(spec.hierarchy, "type", "") == "date":
        return "month"
    if col.code_list == "divisions":
        return "district"
    return "category"


def series(release: Release, table: pa.Table, cols: list[Column], lang: str) -> list[Series]:
    """One series per group-by dimension of an aggregate release, on its first count or sum
    measure (means do not add up); none for other releases."""
    agg = release.aggregate
    if agg is None:
        return []
    measure = next((n for n, m in agg.measures.items() if m.function in ("count", "sum")), None)
    by_name = {c.name: c for c in cols}
    if measure is None or measure not in table.column_names or measure not in by_name:
        return []
    import pyarrow.compute as pc

    if "margin" in table.column_names:  # totals rows would be counted twice
        margin = table["margin"]
        table = table.filter(pc.or_(pc.is_null(margin), pc.equal(pc.cast(margin, pa.string()), "")))
    if "suppressed" in table.column_names:
        hidden = int(
            pc.sum(pc.cast(pc.fill_null(table["suppressed"], False), pa.int64())).as_py() or 0
        )
        table = table.filter(pc.invert(pc.fill_null(table["suppressed"], False)))
    else:
        hidden = int(pc.sum(pc.cast(pc.is_null(table[measure]), pa.int64())).as_py() or 0)
    out: list[Series] = []
    for dim in agg.group_by:
        col = by_name.get(dim)
        if col is None or dim not in table.column_names:
            continue
        kind = _kind(col, release)
        sums = table.group_by(dim).aggregate([(measure, "sum")])
        pairs = [
            (str(k), float(v or 0))
            for k, v in zip(sums[dim].to_pylist(), sums[f"{measure}_sum"].to_pylist(), strict=True)
            if k is not None
        ]
        if kind == "month":
            pairs.sort(key=lambda p: p[0])
        else:
            pairs.sort(key=lambda p: (-p[1], p[0]))
        more = max(0, len(pairs) - MAX_BARS)
        pairs = pairs[-MAX_BARS:] if kind == "month" else pairs[:MAX_BARS]
        points = [(p[0] if kind == "month" else col.show(p[0], lang), p[1]) for p in pairs]
        title = f"{col.title}" if lang == "en" else f"按{col.title}"
        out.append(Series(dim, kind, title, by_name[measure].title, points, hidden, more))
    return out


def _num(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def svg(s: Series, lang: str) -> Markup:
    """The chart as inline SVG: columns for months, horizontal bars for the others."""
    top = max((v for _, v in s.points), default=0) or 1
    best = max(s.points, key=lambda p: p[1]) if s.points else ("-", 0)
    if lang == "en":
        desc = (
            f"{s.measure_title} by {s.title}, {len(s.points)} values; highest: {best[0]} "
            f"({_num(best[1])}). {s.suppressed} suppressed cells are not included."
        )
        heading = f"{s.measure_title} by {s.title}"
    else:
        desc = (
            f"{s.title}统计的{s.measure_title}，共 {len(s.points)} 项；最高：{best[0]}"
            f"（{_num(best[1])}）。{s.suppressed} 个已抑制单元格未计入。"
        )
        heading = f"{s.title}的{s.measure_title}"
    parts: list[str] = []
    if s.kind == "month":
        n = max(1, len(s.points))
        height, left, bottom, plot = 240, 48, 40, WIDTH - 48 - 8
        step = plot / n
        for i, (label, value) in enumerate(s.points):
            h = (height - bottom - 16) * value / top
            x = left + i * step
            y = height - bottom - h
            parts.append(
                f'<rect x="{x + step * 0.15:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
                f'height="{h:.1f}" class="bar"><title>{escape(label)}: {_num(value)}</title></rect>'
            )
            if n <= 12 or i % max(1, n // 12) == 0:
                parts.append(
                    f'<text x="{x + step / 2:.1f}" y="{height - bottom + 14}" '
                    f'text-anchor="middle" class="tick">{escape(label[2:] if len(label) == 7 else label)}</text>'
                )
        parts.append(
            f'<text x="{left - 4}" y="20" text-anchor="end" class="tick">{_num(top)}</text>'
            f'<line x1="{left}" x2="{WIDTH - 8}" y1="{height - bottom}" y2="{height - bottom}" class="axis"/>'
        )
    else:
        row, left = 26, 150
        height = row * max(1, len(s.points)) + 8
        plot = WIDTH - left - 70
        for i, (label, value) in enumerate(s.points):
            y = 4 + i * row
            w = plot * value / top
            parts.append(
                f'<text x="{left - 6}" y="{y + 17}" text-anchor="end" class="tick">{escape(label[:12])}</text>'
                f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" class="bar">'
                f"<title>{escape(label)}: {_num(value)}</title></rect>"
                f'<text x="{left + w + 4:.1f}" y="{y + 17}" class="value">{_num(value)}</text>'
            )
    body = "".join(parts)
    return Markup(
        f'<figure class="chart"><figcaption id="{s.id}-h">{escape(heading)}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-labelledby="{s.id}-t {s.id}-d" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{s.id}-t">{escape(heading)}</title><desc id="{s.id}-d">{escape(desc)}</desc>'
        f"{body}</svg></figure>"
    )


def charts(
    release: Release, table: pa.Table, cols: list[Column], lang: str
) -> list[dict[str, Any]]:
    """What the template needs per chart: the series and its SVG."""
    return [{"series": s, "svg": svg(s, lang)} for s in series(release, table, cols, lang)]
