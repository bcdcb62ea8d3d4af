"""Catalog listings for other systems: DCAT-AP (see ``dcat``), Frictionless, the national template."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from schemas.arrow import field_type
from schemas.catalog import Catalog

# columns of the national catalogue compilation template (2017 guide)
TEMPLATE_COLUMNS = [
    "信息资源分类",
    "信息资源名称",
    "信息资源代码",
    "信息资源提供方",
    "信息资源提供方代码",
    "信息资源摘要",
    "信息资源格式分类",
    "信息资源格式类型",
    "信息项名称",
    "信息项数据类型",
    "共享类型",
    "共享条件",
    "共享方式",
    "是否向社会开放",
    "开放条件",
    "更新周期",
    "发布日期",
    "关联资源代码",
]


def frictionless_type(t: Any) -> str:
    """The Frictionless Table Schema type of an Arrow type (``pa.DataType``)."""
    import pyarrow as pa

    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "datetime"
    if pa.types.is_boolean(t):
        return "boolean"
    return "string"


def datapackage(catalog: Catalog) -> dict[str, Any]:
    """A Frictionless data package describing every resource's table schema."""
    resources = []
    for res in catalog.resources.values():
        fields = []
        for name, spec in res.fields.items():
            el = catalog.field_element(spec)
            f: dict[str, Any] = {
                "name": name,
                "title": el.name if el else spec.name,
                "description": (el.description if el else spec.description) or "",
                "type": frictionless_type(field_type(catalog, res.fields[name])),
            }
            code_list = spec.code_list or (el.code_list if el else None)
            if code_list and code_list in catalog.code_lists:
                f["constraints"] = {"enum": catalog.code_lists[code_list].codes}
            if spec.required or name in res.primary_key:
                f.setdefault("constraints", {})["required"] = True
            if el:
                f["x-element"] = el.id
                f["x-source-department"] = el.source
            fields.append(f)
        resources.append(
            {
                "name": res.name,
                # the catalogue describes tables whose rows live with the departments and the
                # exchange: each resource carries its header only (a valid, empty table)
                "data": [[f["name"] for f in fields]],
                "profile": "tabular-data-resource",
                "title": res.title,
                "description": res.summary,
                "x-code": res.code,
                "x-provider": res.provider,
                "schema": {"fields": fields, "primaryKey": res.primary_key},
            }
        )
    return {"name": "onesource-catalog", "title": "OneSource catalog", "resources": resources}


def template_csv(catalog: Catalog) -> str:
    """The catalogue listing in the national template's columns, one row per data item."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(TEMPLATE_COLUMNS)
    for res in catalog.resources.values():
        dept = catalog.departments.get(res.provider)
        for name, spec in res.fields.items():
            el = catalog.field_element(spec)
            writer.writerow(
                [
                    f"{res.classification.category.label}/{res.classification.subject}",
                    res.title,
                    res.code,
                    dept.name if dept else res.provider,
                    dept.credit_code if dept else "",
                    res.summary,
                    res.format_category.label,
                    res.format,
                    el.name if el else spec.name,
                    catalog.field_type(spec).value,
                    res.effective_share(name).label,
                    res.share_condition or "",
                    res.share_method.label,
                    "是" if res.open_class.value != "closed" else "否",
                    res.open_condition or "",
                    res.update_cycle.label,
                    res.issued.isoformat(),
                    ";".join(res.related),
                ]
            )
    return buf.getvalue()


FORMATS = ("dcat", "ttl", "datapackage", "csv")


def render(catalog: Catalog, fmt: str) -> str:
    """The catalogue in one of ``FORMATS``: DCAT-AP as JSON-LD (``dcat``) or Turtle (``ttl``),
    a Frictionless data package, or the national template CSV."""
    if fmt == "csv":
        return "\ufeff" + template_csv(catalog)  # BOM so Excel opens Chinese text
    if fmt in ("dcat", "ttl"):
        from onesource.catalog.dcat import catalogue_graph, serialize

        return serialize(catalogue_graph(catalog), "ttl" if fmt == "ttl" else "jsonld")
    if fmt == "datapackage":
        return json.dumps(datapackage(catalog), ensure_ascii=False, indent=2) + "\n"
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
