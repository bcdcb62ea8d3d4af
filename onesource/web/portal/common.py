"""Shared portal pieces: language, templates, the per-catalog search index, errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.templating import Jinja2Templates

from onesource.web.portal.search import SearchIndex
from schemas.catalog import Catalog

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
FILE_RE = re.compile(r"^[a-z_]+\.(csv|parquet|json|jsonld|md|sha256)$")

TEXT = {
    "zh": {
        "site": "清河市公共数据开放平台",
        "search": "搜索",
        "datasets": "数据集",
        "all": "全部",
        "department": "部门",
        "theme": "主题",
        "cycle": "更新周期",
        "open_class": "开放类型",
        "format": "格式",
        "download": "下载",
        "dictionary": "数据字典",
        "field": "字段",
        "name": "名称",
        "type": "类型",
        "technique": "处理方式",
        "versions": "版本",
        "risk": "重识别风险",
        "preview": "数据预览",
        "cite": "引用方式",
        "licence": "许可协议",
        "updated": "最近更新",
        "rows": "记录数",
        "quality": "数据质量",
        "api": "开放接口",
        "register": "注册获取密钥",
        "no_results": "没有找到匹配的数据集",
        "restricted": "有条件开放：提交申请，经发布部门批准后方可下载",
        "switch": "English",
        "not_published": "尚未发布",
        "size": "大小",
        "checksum": "SHA-256 校验值",
        "scorecard": "数据质量评分",
        "no_score": "暂无评分",
    },
    "en": {
        "site": "Qinghe Open Data",
        "search": "Search",
        "datasets": "Datasets",
        "all": "All",
        "department": "Department",
        "theme": "Theme",
        "cycle": "Update cycle",
        "open_class": "Open class",
        "format": "Format",
        "download": "Download",
        "dictionary": "Data dictionary",
        "field": "Field",
        "name": "Name",
        "type": "Type",
        "technique": "Technique",
        "versions": "Versions",
        "risk": "Re-identification risk",
        "preview": "Preview",
        "cite": "How to cite",
        "licence": "Licence",
        "updated": "Last updated",
        "rows": "Rows",
        "quality": "Quality",
        "api": "Open API",
        "register": "Register for a key",
        "no_results": "No dataset matches",
        "switch": "中文",
        "restricted": "Restricted: apply; download once the publishing department approves",
        "not_published": "not published yet",
        "size": "Size",
        "checksum": "SHA-256",
        "scorecard": "Quality scorecard",
        "no_score": "no score yet",
    },
}


def lang(request: Request) -> str:
    value = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    return "en" if value == "en" else "zh"


def render(request: Request, template: str, status: int = 200, **ctx: Any) -> Any:
    lg = lang(request)
    response = TEMPLATES.TemplateResponse(
        request, template, {"t": TEXT[lg], "lang": lg, **ctx}, status_code=status
    )
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie("lang", lg, max_age=365 * 86400, samesite="lax")
    return response


_indexes: dict[int, tuple[Catalog, SearchIndex]] = {}


def index_for(catalog: Catalog) -> SearchIndex:
    """One search index per catalog object (the dependency reuses it until the catalog changes)."""
    hit = _indexes.get(id(catalog))
    if hit is None or hit[0] is not catalog:
        _indexes.clear()
        hit = _indexes[id(catalog)] = (catalog, SearchIndex(catalog))
    return hit[1]


def check_name(catalog: Catalog, name: str) -> None:
    if not NAME_RE.match(name) or name not in catalog.releases:
        raise HTTPException(404, f"no dataset named {name!r}")


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


TEMPLATES.env.filters["size"] = human_size
