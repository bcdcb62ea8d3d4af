"""The dataset page's content: dictionary, labelled preview, charts, API examples, versions.

Everything a version's files determine (dictionary, preview, charts, its changelog)
is computed once per version folder and language and kept (versions are immutable);
download counts, withdrawals and the version list are read on every request.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from typing import Any

from onesource.store import Store
from onesource.store.records import VersionInfo
from onesource.web.portal import chart
from onesource.web.portal.columns import Column, columns
from onesource.web.portal.model import Dataset
from schemas.catalog import Catalog
from schemas.release import Release
from schemas.vocab import OpenClass, ReleaseKind

PREVIEW_ROWS = 10
MAX_VERSIONS = 20
EXCEL_MAX_ROWS = 1_048_576  # rows of an Excel sheet, the header row included
# files offered on the page, in this order (the rest is in the version's folder)
FILES = (
    "data.csv",
    "data.parquet",
    "data.json",
    "datapackage.json",
    "dcat.jsonld",
    "risk_report.json",
    "changelog.md",
    "checksums.sha256",
)
_CACHE: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_CACHE_MAX = 64
_LOCK = threading.Lock()


def _cached(key: tuple[Any, ...], build: Any) -> dict[str, Any]:
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    value: dict[str, Any] = build()
    with _LOCK:
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_MAX:
            _CACHE.popitem(last=False)
    return value


def _json(store: Store, name: str, file: str, version: int) -> Any:
    try:
        with store.open_file("release", name, file, version) as fh:
            return json.loads(fh.read())
    except (FileNotFoundError, OSError, ValueError):
        return None


def version_columns(
    store: Store, catalog: Catalog, release: Release, info: VersionInfo, lang: str
) -> list[Column]:
    """The columns of one published version with titles and labels in ``lang``."""

    def build() -> dict[str, Any]:
        meta = _json(store, release.name, "datapackage.json", info.number) or {}
        fields = (meta.get("resources") or [{}])[0].get("schema", {}).get("fields", [])
        report = _json(store, release.name, "risk_report.json", info.number) or {}
        levels = report.get("generalization_levels") or {}
        return {"columns": columns(catalog, release, fields, lang, levels)}

    key = ("columns", store.warehouse.url, info.path, lang, id(catalog))
    return list(_cached(key, build)["columns"])


def _content(
    store: Store, catalog: Catalog, release: Release, info: VersionInfo, lang: str
) -> dict[str, Any]:
    """Dictionary, preview rows and charts of one version (cached per folder and language)."""

    def build() -> dict[str, Any]:
        cols = version_columns(store, catalog, release, info, lang)
        preview: list[list[str]] = []
        charts: list[dict[str, Any]] = []
        if release.open_class is OpenClass.open:  # restricted: no rows on a public page
            data = store.dataset("release", release.name, info.number)
            head = data.head(PREVIEW_ROWS)
            preview = [[c.show(row.get(c.name), lang) for c in cols] for row in head.to_pylist()]
            if release.kind is ReleaseKind.aggregate:
                charts = chart.charts(release, data.to_table(), cols, lang)
        return {"columns": cols, "preview": preview, "charts": charts}

    return _cached(("content", store.warehouse.url, info.path, lang, id(catalog)), build)


_LEVEL = re.compile(r"^(\d+)-year age bands$")


def _level_label(label: str, lang: str) -> str:
    if lang == "en":
        return label
    m = _LEVEL.match(label)
    if m:
        return f"{m.group(1)}岁分段"
    return {"value": "原值", "month": "月", "year": "年", "*": "全部隐藏"}.get(label, label)


def changes(log: dict[str, Any] | None, titles: dict[str, str], lang: str) -> list[str]:
    """What changed in a version, as sentences in ``lang``, from its ``changelog.json``."""
    if not log:
        return []
    en = lang == "en"
    out: list[str] = []
    if log.get("summary") == "first version" or log.get("previous_version") is None:
        out.append("First version" if en else "首个版本")
    rows = log.get("rows")
    if isinstance(rows, int):
        before = log.get("rows_before")
        if isinstance(before, int):
            delta = f"{rows - before:+,}"
            out.append(
                f"Rows: {rows:,} (was {before:,}, {delta})"
                if en
                else f"记录数：{rows:,}（上一版 {before:,}，{delta}）"
            )
        else:
            out.append(f"Rows: {rows:,}" if en else f"记录数：{rows:,}")
    for key, zh, word in (
        ("rows_added", "新增记录", "added"),
        ("rows_removed", "删除记录", "removed"),
    ):
        if isinstance(log.get(key), int):
            out.append(f"Rows {word}: {log[key]:,}" if en else f"{zh}：{log[key]:,}")
    for key, zh, word in (
        ("columns_added", "新增字段", "Columns added"),
        ("columns_removed", "删除字段", "Columns removed"),
    ):
        names = log.get(key) or []
        if names:
            shown = "、" if not en else ", "
            listed = shown.join(f"{titles.get(n, n)} ({n})" for n in names)
            out.append(f"{word}: {listed}" if en else f"{zh}：{listed}")
    changed = log.get("generalization_changed")
    if isinstance(changed, dict):
        before, after = changed.get("from") or {}, changed.get("to") or {}
        for col in sorted(set(before) | set(after)):
            old = _level_label(str((before.get(col) or {}).get("label", "-")), lang)
            new = _level_label(str((after.get(col) or {}).get("label", "-")), lang)
            if old != new:
                title = titles.get(col, col)
                out.append(
                    f"Generalization of {title}: {old} → {new}"
                    if en
                    else f"{title}的泛化级别：{old} → {new}"
                )
    return out


def versions(
    store: Store, catalog: Catalog, release: Release, lang: str, counts: dict[int, int]
) -> list[dict[str, Any]]:
    """The newest versions with what changed in each (localised), withdrawals, downloads."""
    infos = store.versions("release", release.name)
    withdrawn = store.withdrawals.of("release", release.name)
    out: list[dict[str, Any]] = []
    for i in range(len(infos) - 1, max(-1, len(infos) - 1 - MAX_VERSIONS), -1):
        info, prev = infos[i], (infos[i - 1] if i > 0 else None)

        def build(info: VersionInfo = info) -> dict[str, Any]:
            log = _json(store, release.name, "changelog.json", info.number)
            titles = {c.name: c.title for c in version_columns(store, catalog, release, info, lang)}
            return {"changes": changes(log, titles, lang)}

        items = list(
            _cached(("changes", store.warehouse.url, info.path, lang, id(catalog)), build)[
                "changes"
            ]
        )
        retyped = prev is not None and prev.schema_fingerprint != info.schema_fingerprint
        if retyped and not any(("字段" in s or "Columns" in s) for s in items):
            items.append("Column types changed" if lang == "en" else "字段类型有变化")
        rows = (
            int(info.stats.get("rows", info.row_count))
            if isinstance(info.stats, dict)
            else info.row_count
        )
        out.append(
            {
                "number": info.number,
                "current": info.current,
                "created_at": info.created_at.strftime("%Y-%m-%d %H:%M"),
                "rows": rows,
                "changes": items,
                "withdrawn": withdrawn.get(info.number),
                "downloads": counts.get(info.number, 0),
            }
        )
    return out


def api_examples(release: Release, base: str, cols: list[Column]) -> dict[str, str]:
    """curl and Python examples for ``release`` against the hub's public base URL."""
    name = release.name
    csv_url = f"{base}/datasets/{name}/download/data.csv"
    text_cols = [c.name for c in cols if c.type == "string"]
    restricted = release.open_class is OpenClass.restricted
    header = "X-Consumer-Key: oc_..."
    if restricted:
        curl = (
            f"curl -OJ -H '{header}' '{csv_url}'\n"
            f"curl -OJ -H '{header}' '{csv_url}?header=title'\n"
            f"curl -OJ -H '{header}' '{base}/datasets/{name}/download/data.xlsx'"
        )
        python = (
            "import io\nimport urllib.request\n\nimport pandas as pd\n\n"
            f'request = urllib.request.Request("{csv_url}", headers={{"X-Consumer-Key": "oc_..."}})\n'
            "with urllib.request.urlopen(request) as response:\n"
            f"    table = pd.read_csv(io.BytesIO(response.read()), dtype={{{', '.join(repr(c) + ': str' for c in text_cols)}}})\n"
        )
        return {"curl": curl, "python": python, "rows_url": "", "csv_url": csv_url}
    rows_url = f"{base}/api/open/datasets/{name}/rows?limit=5"
    curl = (
        f"curl -s '{rows_url}'\n"
        f"curl -OJ '{csv_url}'\n"
        f"curl -OJ '{csv_url}?header=title'\n"
        f"curl -OJ '{base}/datasets/{name}/download/data.xlsx'"
    )
    dtype = "{" + ", ".join(f'"{c}": str' for c in text_cols) + "}"
    python = (
        "import json\nimport urllib.request\n\n"
        f'with urllib.request.urlopen("{rows_url}") as response:\n'
        '    rows = json.load(response)["rows"]\n\n'
        "import pandas as pd  # text columns as text: codes keep their leading zeros\n\n"
        f'table = pd.read_csv("{csv_url}", dtype={dtype})\n'
    )
    return {"curl": curl, "python": python, "rows_url": rows_url, "csv_url": csv_url}


def page(store: Store, catalog: Catalog, ds: Dataset, lang: str, base: str) -> dict[str, Any]:
    """The template context of a dataset page."""
    from onesource.web.portal.downloads import file_counts

    release = ds.release
    counts = file_counts(store, release.name)
    ctx: dict[str, Any] = {
        "columns": [],
        "preview": [],
        "charts": [],
        "files": [],
        "derived": [],
        "api": None,
        "downloads": counts,
    }
    if ds.published and ds.version is not None:
        info = store.version("release", release.name, ds.version)
        content = _content(store, catalog, release, info, lang)
        ctx.update(content)
        ctx["files"] = [f for f in FILES if f in ds.files]
        if "data.csv" in ds.files:
            ctx["derived"].append(("data.csv?header=title", "data.csv"))
        if "data.parquet" in ds.files and (ds.rows or 0) < EXCEL_MAX_ROWS:
            ctx["derived"].append(("data.xlsx", "data.xlsx"))
        ctx["api"] = api_examples(release, base, content["columns"])
    ctx["versions"] = versions(store, catalog, release, lang, counts["versions"])
    return ctx
