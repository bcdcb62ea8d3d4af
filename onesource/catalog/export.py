"""Catalog listings for other systems: DCAT-AP, Frictionless, the national template."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from schemas.arrow import field_type
from schemas.catalog import Catalog

BASE_IRI = "https://data.qinghe.example.gov.cn"

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
                "title": res.title,
                "description": res.summary,
                "x-code": res.code,
                "x-provider": res.provider,
                "schema": {"fields": fields, "primaryKey": res.primary_key},
            }
        )
    return {"name": "onesource-catalog", "title": "OneSource catalog", "resources": resources}


DCAT_CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "owl": "http://www.w3.org/2002/07/owl#",
    "spdx": "http://spdx.org/rdf/terms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
FREQUENCY_IRI = "http://publications.europa.eu/resource/authority/frequency/"


def dcat_dataset(
    catalog: Catalog,
    iri: str,
    identifier: str,
    item: Any,
    publisher: str,
    keywords: list[str],
    theme: Any,
) -> dict[str, Any]:
    """The DCAT-AP description shared by catalogue resources and open-data releases.

    ``item`` is a resource or a release: both carry ``title``, ``title_en``,
    ``summary`` and ``update_cycle``.
    """
    dept = catalog.departments.get(publisher)
    return {
        "@id": iri,
        "@type": "dcat:Dataset",
        "dct:identifier": identifier,
        "dct:title": [
            {"@value": item.title, "@language": "zh"},
            {"@value": item.title_en, "@language": "en"},
        ],
        "dct:description": {"@value": item.summary, "@language": "zh"},
        "dct:publisher": {
            "@type": "foaf:Organization",
            "foaf:name": dept.name if dept else publisher,
            "dct:identifier": dept.credit_code if dept else None,
        },
        "dct:accrualPeriodicity": {"@id": FREQUENCY_IRI + item.update_cycle.dcat},
        "dcat:keyword": keywords,
        "dcat:theme": theme,
    }


def dcat(catalog: Catalog) -> dict[str, Any]:
    """DCAT-AP JSON-LD of the catalogue (resources as datasets)."""
    datasets = [
        dcat_dataset(
            catalog,
            f"{BASE_IRI}/catalog/{res.name}",
            res.code,
            res,
            res.provider,
            res.keywords,
            res.classification.subject,
        )
        | {
            "dct:issued": {"@value": res.issued.isoformat(), "@type": "xsd:date"},
            "dct:accessRights": {
                "@value": f"share:{res.share_class.value}; open:{res.open_class.value}"
            },
        }
        for res in catalog.resources.values()
    ]
    return {
        "@context": DCAT_CONTEXT,
        "@id": f"{BASE_IRI}/catalog",
        "@type": "dcat:Catalog",
        "dct:title": "清河市政务信息资源目录",
        "dcat:dataset": datasets,
    }


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


def render(catalog: Catalog, fmt: str) -> str:
    if fmt == "csv":
        return "\ufeff" + template_csv(catalog)  # BOM so Excel opens Chinese text
    doc = dcat(catalog) if fmt == "dcat" else datapackage(catalog)
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
