"""What a release's columns are called and what their codes mean, in Chinese and English.

The dataset page, the titled CSV header and the xlsx download take column titles and
code labels from here, built from the catalog (release columns, fields, elements, code
lists) rather than from the published ``datapackage.json``, whose labels are fixed at
publication and bilingual.  A derived column gets a title of its own: an age band
generalized from 出生日期 is 年龄段, a month generalized from 受理时间 is 受理月份, an
aggregate's measure says what it counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from schemas.catalog import Catalog
from schemas.release import Release, ReleaseColumn
from schemas.vocab import Technique

TYPES = {
    "string": ("文本", "text"),
    "integer": ("整数", "integer"),
    "number": ("数值", "number"),
    "boolean": ("是/否", "yes/no"),
    "date": ("日期", "date"),
    "datetime": ("日期时间", "date and time"),
    "year": ("年份", "year"),
    "yearmonth": ("年月", "year and month"),
}
MEASURES = {
    "count": ("数量", "count"),
    "sum": ("{}合计", "total {}"),
    "mean": ("{}平均值", "mean {}"),
    "min": ("{}最小值", "minimum {}"),
    "max": ("{}最大值", "maximum {}"),
}
AGGREGATION = ("聚合", "aggregation")
SPECIAL = {
    "suppressed": ("已抑制", "suppressed"),
    "margin": ("合计维度", "dimensions summed (margin)"),
}
YES_NO = {"zh": ("是", "否"), "en": ("yes", "no")}
# a time-like Chinese name loses its suffix when generalized: 受理时间 -> 受理月份
_TIME_SUFFIX = re.compile(r"(时间|日期|时刻|年月日)$")


@dataclass
class Column:
    """One published column as a person reads it."""

    name: str
    title: str
    type: str  # frictionless type
    type_label: str
    technique: str  # code: a Technique value, "aggregate" or ""
    technique_label: str
    description: str = ""
    codes: dict[str, str] = field(default_factory=dict)  # code -> label
    code_list: str | None = None
    derived: bool = False

    def show(self, value: Any, lang: str) -> str:
        """A cell as text: a code's label, 是/否, or the value; empty for null."""
        if value is None:
            return ""
        if isinstance(value, bool):
            return YES_NO[lang][0 if value else 1]
        text = str(value)
        return self.codes.get(text, text)


def _i(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def _source(catalog: Catalog, col: ReleaseColumn) -> tuple[Any, Any]:
    """The field spec and element a release column is read from (either may be None)."""
    ref, name = col.source.split(".", 1)
    res = catalog.resources.get(ref)
    spec = res.fields.get(name) if res is not None else None
    el = catalog.field_element(spec) if spec is not None else catalog.elements.get(col.source)
    return spec, el


def _base(catalog: Catalog, col: ReleaseColumn, name: str) -> tuple[str, str]:
    spec, el = _source(catalog, col)
    zh = (el.name if el else None) or (spec.name if spec else None) or name
    en = (el.name_en if el else None) or (spec.name_en if spec else None) or name
    return zh, en


def _date_level(col: ReleaseColumn, level: Any) -> str:
    """'month' or 'year': the level reached (risk report) or declared."""
    hierarchy = col.hierarchy
    levels = list(getattr(hierarchy, "levels", None) or ("month", "year"))
    if isinstance(level, dict) and level.get("label") in ("month", "year"):
        return str(level["label"])
    n = col.level if isinstance(col.level, int) else 1
    return str(levels[max(0, min(n, len(levels)) - 1)])


def column_title(
    catalog: Catalog, release: Release, name: str, lang: str, level: Any = None
) -> str:
    """The title of column ``name`` of ``release`` in ``lang`` (``level``: the risk report's
    generalization level of the column, when it was chosen automatically)."""
    col = release.columns.get(name)
    if col is None:
        agg = release.aggregate
        measure = agg.measures.get(name) if agg is not None else None
        if measure is not None:
            pattern = _i(MEASURES[measure.function], lang)
            inner = column_title(catalog, release, measure.column, lang) if measure.column else ""
            return pattern.format(inner).strip()
        return _i(SPECIAL[name], lang) if name in SPECIAL else name
    if col.title and lang == "zh":
        return col.title
    zh, en = _base(catalog, col, name)
    base = en if lang == "en" else zh
    technique = col.technique
    if technique is Technique.generalize:
        kind = getattr(col.hierarchy, "type", "")
        if kind == "age":
            return "Age band" if lang == "en" else "年龄段"
        if kind == "date":
            unit = _date_level(col, level)
            if lang == "en":
                return f"{base} ({unit})"
            stem = _TIME_SUFFIX.sub("", base)
            word = "月份" if unit == "month" else "年份"
            return f"{stem}{word}" if stem != base else f"{base}（{word}）"
        return f"{base} (generalized)" if lang == "en" else f"{base}（泛化）"
    if technique is Technique.pseudonymize:
        return f"{base} (pseudonym)" if lang == "en" else f"{base}（假名）"
    if technique is Technique.mask:
        return f"{base} (masked)" if lang == "en" else f"{base}（已屏蔽）"
    return base


def _codes(catalog: Catalog, col: ReleaseColumn, lang: str) -> tuple[str | None, dict[str, str]]:
    spec, el = _source(catalog, col)
    name = (spec.code_list if spec else None) or (el.code_list if el else None)
    if col.technique is Technique.generalize and getattr(col.hierarchy, "type", "") == "code_list":
        name = col.hierarchy.code_list  # type: ignore[union-attr]  # parents are in its list
    elif col.technique is not Technique.keep:
        return None, {}
    code_list = catalog.code_lists.get(name or "")
    if code_list is None:
        return None, {}
    return name, {
        v.code: (v.label_en or v.label) if lang == "en" else v.label for v in code_list.values
    }


def columns(
    catalog: Catalog,
    release: Release,
    fields: list[dict[str, Any]],
    lang: str,
    levels: dict[str, Any] | None = None,
) -> list[Column]:
    """The published columns (``fields``: the version's datapackage schema, for names, order
    and types) with titles, localised types and techniques, descriptions and code labels."""
    out: list[Column] = []
    seen: set[str] = set()
    for f in fields:
        name = f["name"]
        col = release.columns.get(name)
        title = column_title(catalog, release, name, lang, (levels or {}).get(name))
        if title in seen:  # two columns must never share a header
            title = f"{title} ({name})"
        seen.add(title)
        kind = f.get("type", "string")
        technique, code_list, description = "", None, ""
        codes: dict[str, str] = {}
        if col is not None:
            technique = col.technique.value
            technique_label = col.technique.label_en if lang == "en" else col.technique.label
            code_list, codes = _codes(catalog, col, lang)
            spec, el = _source(catalog, col)
            description = (
                col.description
                or (el.description if el else None)
                or (spec.description if spec else None)
                or ""
            )
        elif release.aggregate is not None and name in release.aggregate.measures:
            technique, technique_label = "aggregate", _i(AGGREGATION, lang)
        else:
            technique_label = ""
        out.append(
            Column(
                name=name,
                title=title,
                type=kind,
                type_label=_i(TYPES.get(kind, (kind, kind)), lang),
                technique=technique,
                technique_label=technique_label,
                description=description,
                codes=codes,
                code_list=code_list,
                derived=col is not None and col.technique is not Technique.keep,
            )
        )
    return out
