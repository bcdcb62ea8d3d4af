"""The dataset page: Chinese without English fragments, titles and code labels, charts of
aggregates, API examples that work against the serving app, localised versions."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlsplit

import pytest

from onesource.web.portal.dataset_view import changes

HTML = {"accept": "text/html"}
# what may stay Latin on a Chinese page: file names, formats, standards, code, products
ALLOWED = {
    "CSV", "DCAT", "English", "Excel", "HEAD", "OneSource", "OpenAPI", "Python", "SHA-",
    "CC-BY-", "ICD-", "X-Consumer-Key", "changelog", "checksums", "csv", "curl", "data",
    "datapackage", "dcat", "header", "json", "jsonld", "parquet", "risk_report", "sha",
    "title", "xlsx", "GB",
}  # fmt: skip


def _text(html: str) -> str:
    """The page's visible prose: code, examples, charts' markup and tags removed."""
    html = re.sub(r"<(pre|code|svg|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize(
    "name", ["hotline_tickets_monthly", "appointments_research", "grid_events_open"]
)
def test_chinese_page_has_no_english_fragments(client, name: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get(f"/datasets/{name}?lang=zh", headers=HTML)
    assert page.status_code == 200
    text = _text(page.text)
    for fragment in ("no transformation", "string", "True", "False", "first version", "rows:"):
        assert fragment not in text, fragment
    words = set(re.findall(r"[A-Za-z][A-Za-z_\-]{2,}", text))
    assert words <= ALLOWED, words - ALLOWED


def test_preview_shows_titles_and_code_labels(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/datasets/grid_events_open?lang=zh", headers=HTML).text
    preview = page[page.index('id="preview"') :]
    preview = preview[: preview.index("</table>")]
    heads = re.findall(r'<th scope="col">(.*?)</th>', preview)
    assert heads == ["事件编号", "事件类型", "事件区划", "上报月份", "是否办结"]
    cells = re.findall(r"<td>(.*?)</td>", preview)
    assert cells and not any(re.fullmatch(r"\d{6}", c) for c in cells)  # no raw division codes
    assert not {"sanitation", "safety", "dispute", "parking", "true", "false"} & set(cells)
    assert {"是", "否"} & set(cells)
    assert any(c.endswith(("区", "县", "市")) for c in cells)


def test_derived_columns_get_their_own_titles(client) -> None:  # type: ignore[no-untyped-def]
    zh = client.get("/datasets/appointments_research?lang=zh", headers=HTML).text
    dictionary = zh[zh.index('id="dictionary"') : zh.index("</table>", zh.index('id="dictionary"'))]
    titles = re.findall(r"<tr><td>(.*?)</td><td><code>(\w+)</code>", dictionary)
    by_name = {name: title for title, name in titles}
    assert by_name["age"] == "年龄段" and "出生日期" not in by_name.values()
    assert by_name["visit_month"] == "就诊月份" and by_name["patient"] == "患者假名"
    en = client.get("/datasets/appointments_research?lang=en", headers=HTML).text
    assert "<td>Age band</td>" in en and "<td>text</td>" in en


def test_aggregate_chart_is_svg_with_title_desc_and_table(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/datasets/hotline_tickets_monthly?lang=zh", headers=HTML).text
    kinds = re.findall(r'data-chart="(\w+)"', page)
    assert kinds == ["category", "district", "month"]
    svgs = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    assert len(svgs) == 3
    for svg in svgs:
        assert 'role="img"' in svg and "<title id=" in svg and "<desc id=" in svg
    assert "<script" not in page  # works without JavaScript
    # the category totals equal the published unsuppressed cells, shown by label
    body = client.get("/datasets/hotline_tickets_monthly/download/data.csv").content
    totals: dict[str, int] = {}
    for row in csv.DictReader(io.StringIO(body.decode("utf-8-sig"))):
        if row["suppressed"] == "false":
            totals[row["category"]] = totals.get(row["category"], 0) + int(row["tickets"])
    table = page[page.index('data-chart="category"') :]
    table = table[table.index("<table") : table.index("</table>")]
    shown = dict(re.findall(r'<th scope="row">(.*?)</th><td class="num">([\d,]+)</td>', table))
    assert int(shown["投诉"].replace(",", "")) == totals["complaint"]
    assert len(shown) == len(totals)


def test_microdata_pages_have_no_chart(client) -> None:  # type: ignore[no-untyped-def]
    assert "data-chart=" not in client.get("/datasets/grid_events_open", headers=HTML).text


def test_api_tab_examples_work_against_the_app(client) -> None:  # type: ignore[no-untyped-def]
    from html import unescape

    from onesource.web.hosts import public_url

    page = client.get("/datasets/grid_events_open?lang=zh", headers=HTML).text
    curl = unescape(re.search(r'id="api-curl"[^>]*><code>(.*?)</code>', page, re.S).group(1))  # type: ignore[union-attr]
    python = unescape(re.search(r'id="api-python"[^>]*><code>(.*?)</code>', page, re.S).group(1))  # type: ignore[union-attr]
    urls = re.findall(r"'(https?://[^']+)'", curl)
    assert urls and all(u.startswith(public_url() + "/") for u in urls)
    assert all(u in python for u in urls[:2])
    for url in urls:
        parts = urlsplit(url)
        response = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        assert response.status_code == 200, (url, response.text[:200])
    compile(python, "example.py", "exec")  # the Python example is valid Python


def test_changelog_is_localised() -> None:
    log = {
        "previous_version": 1,
        "rows": 120,
        "rows_before": 100,
        "rows_added": 25,
        "rows_removed": 5,
        "columns_added": ["age"],
        "columns_removed": [],
        "generalization_changed": {
            "from": {"age": {"level": 3, "label": "10-year age bands"}},
            "to": {"age": {"level": 4, "label": "20-year age bands"}},
        },
    }
    zh = changes(log, {"age": "年龄段"}, "zh")
    assert zh == [
        "记录数：120（上一版 100，+20）",
        "新增记录：25",
        "删除记录：5",
        "新增字段：年龄段 (age)",
        "年龄段的泛化级别：10岁分段 → 20岁分段",
    ]
    assert not re.search(r"[A-Za-z]{3,}", " ".join(zh).replace("age", ""))
    en = changes(log, {"age": "Age band"}, "en")
    assert en[0] == "Rows: 120 (was 100, +20)" and en[-1].endswith(
        "10-year age bands → 20-year age bands"
    )
    assert changes({"previous_version": None, "rows": 5, "summary": "first version"}, {}, "zh") == [
        "首个版本",
        "记录数：5",
    ]


def test_versions_show_what_changed_and_downloads(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/datasets/business_register_open?lang=zh", headers=HTML).text
    versions = page[page.index('id="versions"') :]
    assert "首个版本" in versions and 'data-version="1"' in versions
    assert re.search(r'id="download-total">下载次数: [\d,]+<', page)


class _History:
    """Two versions of grid_events_open: v2 has 20 more rows, a column and other types."""

    def __init__(self) -> None:
        import datetime as dt
        import json

        from onesource.store.records import VersionInfo

        at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        self.infos = [
            VersionInfo("release", "grid_events_open", n, "r", f"open/g/v{n}", rows, 0, fp, at)
            for n, rows, fp in ((1, 100, "a"), (2, 120, "b"))
        ]
        fields = [{"name": "division", "type": "string"}, {"name": "resolved", "type": "boolean"}]
        log = {
            "previous_version": 1,
            "rows": 120,
            "rows_before": 100,
            "columns_added": ["resolved"],
        }
        self.files = {
            (2, "datapackage.json"): {"resources": [{"schema": {"fields": fields}}]},
            (2, "changelog.json"): log,
            (1, "changelog.json"): {"previous_version": None, "rows": 100},
        }
        self.warehouse = type("W", (), {"url": "memory://history"})()
        self.withdrawals = type("B", (), {"of": lambda *_: {}})()
        self._dump = json.dumps

    def versions(self, kind: str, subject: str) -> list[object]:
        return list(self.infos)

    def open_file(self, kind: str, subject: str, name: str, version: int):  # type: ignore[no-untyped-def]
        if (version, name) not in self.files:
            raise FileNotFoundError(name)
        return io.BytesIO(self._dump(self.files[(version, name)]).encode())


def test_versions_list_what_changed_per_version() -> None:
    from onesource.web.portal.dataset_view import versions
    from tests.conftest import _catalog

    catalog = _catalog()
    release = catalog.releases["grid_events_open"]
    shown = versions(_History(), catalog, release, "zh", {2: 7})  # type: ignore[arg-type]
    assert [v["number"] for v in shown] == [2, 1]
    assert shown[0]["downloads"] == 7 and shown[1]["downloads"] == 0
    assert shown[0]["changes"] == [
        "记录数：120（上一版 100，+20）",
        "新增字段：是否办结 (resolved)",
    ]
    assert shown[1]["changes"] == ["首个版本", "记录数：100"]
    en = versions(_History(), catalog, release, "en", {})  # type: ignore[arg-type]
    added = en[0]["changes"][1]
    assert added.startswith("Columns added: ") and added.endswith("(resolved)")


def test_a_dataset_not_published_yet_has_a_page_and_no_files(hub_home) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from onesource.web.app import create_app
    from onesource.web.deps import reset_caches

    reset_caches()
    client = TestClient(create_app())
    page = client.get("/datasets/hotline_tickets_monthly", headers=HTML)
    assert page.status_code == 200 and "尚未发布" in page.text and "data-chart=" not in page.text
    xlsx = client.get("/datasets/hotline_tickets_monthly/download/data.xlsx")
    assert xlsx.status_code == 404 and xlsx.json()["error"]["code"] == "not-found"
    reset_caches()
