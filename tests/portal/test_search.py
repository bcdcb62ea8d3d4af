"""Search that finds, and the listing pages: the catalog alone (no release published), so fast.

Attacks first: a catalog title or a query carrying ``<script>`` must reach the page escaped;
closed resources must not be listed unless the steward allows it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from onesource.web.portal.search import SearchIndex, highlight

REPO = Path(__file__).resolve().parents[2]
HTML = {"accept": "text/html"}
XSS = "<script>alert(1)</script>"


def _load(root: Path) -> Any:
    from onesource.catalog.loader import load_catalog

    return load_catalog(root).raise_for_issues()


@pytest.fixture(scope="module")
def catalog() -> Any:
    return _load(REPO / "catalog")


@pytest.fixture(scope="module")
def index(catalog: Any) -> SearchIndex:
    return SearchIndex(catalog)


@pytest.fixture(scope="module")
def hostile_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo catalog with markup in a release title and summary."""
    root = tmp_path_factory.mktemp("hostile") / "catalog"
    shutil.copytree(REPO / "catalog", root)
    path = root / "releases" / "grid_events_open.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("title: 网格事件开放数据", f"title: '网格事件{XSS}开放数据'")
    path.write_text(text, encoding="utf-8")
    return root


def _client(home: Path, catalog_root: Path) -> Any:
    from fastapi.testclient import TestClient

    from onesource.web.app import create_app
    from onesource.web.deps import reset_caches

    os.environ.update(ONESOURCE_HOME=str(home), ONESOURCE_CATALOG=str(catalog_root))
    reset_caches()
    return TestClient(create_app())


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from onesource.web.deps import reset_caches

    old = {k: os.environ.get(k) for k in ("ONESOURCE_HOME", "ONESOURCE_CATALOG")}
    yield _client(tmp_path_factory.mktemp("search-hub"), REPO / "catalog")
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    reset_caches()


def _names(index: SearchIndex, query: str, k: int = 5) -> list[str]:
    return [h.key.split(":", 1)[1] for h in index.search(query, limit=k)]


@pytest.mark.parametrize(
    "query,expected",
    [
        ("投诉", "hotline_tickets_monthly"),  # a code label of the hotline categories
        ("医院", "appointments_research"),  # synonym of 医疗机构
        ("公司", "business_register_open"),  # code label 有限责任公司, synonym 企业
        ("社保", "social_insurance"),  # steward synonym 社会保险
        ("人口", "population_register"),  # a closed resource, listed as an entry
        ("人力资源和社会保障局", "employment_records"),  # department name
        ("统一社会信用代码", "business_register_open"),  # element name
        ("hospital", "appointments_research"),
    ],
    ids=[
        "code-label",
        "synonym-hospital",
        "company",
        "steward-synonym",
        "closed",
        "dept",
        "element",
        "english",
    ],
)
def test_search_finds_what_a_person_expects(index: SearchIndex, query: str, expected: str) -> None:
    assert expected in _names(index, query)


def test_title_match_ranks_above_a_code_label_match(index: SearchIndex) -> None:
    # 医疗 is a keyword and in the title of the appointments release; elsewhere only labels
    assert _names(index, "医疗")[0] == "appointments_research"
    assert _names(index, "社会保险")[0] == "social_insurance"


def test_cross_word_bigrams_and_noise_words_do_not_match_everything(index: SearchIndex) -> None:
    assert _names(index, "人口基本信息") == ["population_register"]
    assert _names(index, "人口数据")[0] == "population_register"
    assert index.search("房价") == []  # nothing in the catalog is about prices
    assert index.search("数据")  # a noise word alone is still a query
    assert index.search("   ") == [] and index.search("\x00\x1f") == []


def test_synonyms_come_from_the_catalog(catalog: Any) -> None:
    from schemas.search import SearchSettings

    bare = catalog.model_copy(update={"search": SearchSettings(list_closed=True)})
    assert "social_insurance" not in _names(SearchIndex(bare), "医保")
    assert "social_insurance" in _names(SearchIndex(catalog), "医保")


def test_highlight_escapes_markup_and_marks_terms() -> None:
    out = highlight(f"投诉{XSS}&", ("投诉", "script"))
    assert str(out) == (
        "<mark>投诉</mark>&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt;&amp;"
    )
    assert "<script" not in str(highlight(XSS, ()))


def test_hostile_title_and_query_are_escaped(
    client: Any, hostile_catalog: Path, tmp_path: Path
) -> None:
    evil = _client(tmp_path, hostile_catalog)
    try:
        for params in ({"q": "网格"}, {"q": XSS}, {"q": f"网格{XSS}"}, {}):
            page = evil.get("/", params=params, headers=HTML)
            assert page.status_code == 200
            assert "<script>alert" not in page.text, params
        page = evil.get("/", params={"q": "网格"}, headers=HTML)
        assert "&lt;<mark>script</mark>&gt;" not in page.text  # the query had no 'script'
        assert "网格事件&lt;script&gt;alert(1)&lt;/script&gt;开放数据" in page.text.replace(
            "<mark>", ""
        ).replace("</mark>", "")
        assert "<script>alert" not in evil.get("/departments", headers=HTML).text
    finally:
        _client(Path(os.environ["ONESOURCE_HOME"]), REPO / "catalog")  # back to the module hub


def test_search_page_highlights_and_says_why(client: Any) -> None:
    page = client.get("/", params={"q": "投诉", "lang": "zh"}, headers=HTML).text
    assert 'data-key="dataset:hotline_tickets_monthly"' in page
    assert "诉求类别：<mark>投诉</mark>" in page  # matched through a code label, shown
    page = client.get("/", params={"q": "社保"}, headers=HTML).text
    assert "<mark>社会保险</mark>" in page


def test_a_closed_resource_says_not_open_and_how_to_apply(client: Any) -> None:
    page = client.get("/", params={"q": "人口基本信息", "lang": "zh"}, headers=HTML).text
    assert "常住人口基本信息: 不予开放" in page
    assert "有条件开放的数据可申请" in page and 'href="/register?lang=zh"' in page
    assert 'href="/datasets/population_register' not in page  # an entry, never data


def test_restricted_datasets_are_listed_with_how_to_apply(client: Any) -> None:
    page = client.get("/", params={"q": "挂号", "lang": "zh"}, headers=HTML).text
    assert 'data-key="dataset:appointments_research"' in page
    assert "有条件开放：提交申请" in page and "/register?lang=zh" in page


def test_closed_entries_only_when_the_steward_allows(catalog: Any, client: Any) -> None:
    from onesource.store import Store
    from onesource.web.portal import listing
    from schemas.search import SearchSettings

    hidden = catalog.model_copy(
        update={"search": catalog.search.model_copy(update={"list_closed": False})}
    )
    store = Store.open()
    keys = {i.key for i in listing.items(store, hidden)}
    assert "entry:population_register" not in keys and "entry:properties" not in keys
    assert "dataset:appointments_research" in keys
    assert SearchIndex(hidden).search("常住人口基本信息") == []  # not even its words leak
    assert "entry:population_register" in {i.key for i in listing.items(store, catalog)}
    assert isinstance(hidden.search, SearchSettings)


def test_facet_counts_follow_the_other_facets(client: Any) -> None:
    from onesource.store import Store
    from onesource.web.deps import get_catalog
    from onesource.web.portal import listing
    from onesource.web.portal.common import index_for

    catalog = get_catalog()
    hits = index_for(catalog).search("户籍")
    every = listing.listing(Store.open(), catalog, hits, {}, "", 1, "zh")
    one = listing.listing(Store.open(), catalog, hits, {"department": "psb"}, "", 1, "zh")
    counts = {v: n for v, _, n in every.facets["department"]}
    assert counts["psb"] == 2 and one.total == 2
    # the chosen facet still offers the others, with their counts
    assert {v: n for v, _, n in one.facets["department"]} == counts
    assert {v for v, _, _ in one.facets["open_class"]} == {"closed"}


def test_pagination_and_sorting(client: Any) -> None:
    from onesource.store import Store
    from onesource.web.deps import get_catalog
    from onesource.web.portal import listing

    catalog, store = get_catalog(), Store.open()
    first = listing.listing(store, catalog, None, {}, "name", 1, "zh", per_page=5)
    assert first.pages == -(-first.total // 5) > 2
    pages = [first] + [
        listing.listing(store, catalog, None, {}, "name", n, "zh", per_page=5)
        for n in range(2, first.pages + 1)
    ]
    seen = [i.key for p in pages for i in p.items]
    assert len(seen) == len(set(seen)) == first.total  # every item once
    titles = [i.title for p in pages for i in p.items]
    assert titles == sorted(titles)
    past = listing.listing(store, catalog, None, {}, "name", 99, "zh", per_page=5)
    assert past.page == first.pages  # past the end: the last page
    newest = listing.listing(store, catalog, None, {}, "newest", 1, "zh", per_page=50).items
    assert [i.newest for i in newest] == sorted((i.newest for i in newest), reverse=True)


def test_most_downloaded_sort_reads_the_counter(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onesource.store import Store
    from onesource.web.deps import get_catalog
    from onesource.web.portal import listing

    monkeypatch.setattr(
        listing,
        "download_counts",
        lambda store: {"grid_events_open": 7, "business_register_open": 3},
    )
    result = listing.listing(Store.open(), get_catalog(), None, {}, "downloads", 1, "zh")
    assert [i.name for i in result.items[:2]] == ["grid_events_open", "business_register_open"]


def test_links_keep_the_query(client: Any) -> None:
    page = client.get(
        "/", params={"q": "热线", "department": "dsj", "lang": "zh"}, headers=HTML
    ).text
    switch = page.split('id="lang-switch" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    query = parse_qs(urlsplit(switch).query)
    assert query == {"q": ["热线"], "department": ["dsj"], "lang": ["en"]}
    assert client.get(switch, headers=HTML).status_code == 200
    assert "Qinghe Open Data" in client.get(switch, headers=HTML).text


def test_bad_page_and_sort_values_are_harmless(client: Any) -> None:
    for params in (
        {"page": "-1"},
        {"page": "abc"},
        {"page": "99999999999"},
        {"sort": "<x>"},
        {"kind": "nope"},
    ):
        response = client.get("/", params=params, headers=HTML)
        assert response.status_code == 200, params
        assert "<x>" not in response.text
    nothing = client.get("/", params={"q": "房价", "lang": "zh"}, headers=HTML).text
    assert 'id="no-results"' in nothing and 'href="/requests?lang=zh"' in nothing  # ask for it


def test_departments_index_lists_every_department_with_its_datasets(
    client: Any, catalog: Any
) -> None:
    page = client.get("/departments", params={"lang": "zh"}, headers=HTML).text
    for code, dept in catalog.departments.items():
        assert f'id="dept-{code}"' in page and dept.name in page
    assert 'href="/datasets/hotline_tickets_monthly?lang=zh"' in page
    assert "常住人口基本信息" in page  # a closed entry, listed (the demo steward allows it)
    one = client.get("/departments/psb", params={"lang": "en"}, headers=HTML).text
    assert "conditional sharing" in one and "不予开放" not in one  # English labels on English pages
    assert 'href="/?department=psb&amp;lang=en"' in one


def test_open_api_uses_the_same_search(client: Any) -> None:
    body = client.get("/api/open/datasets", params={"q": "投诉"}).json()
    assert [i["id"] for i in body["items"]] == ["hotline_tickets_monthly"]
    ids = [i["id"] for i in client.get("/api/open/datasets", params={"q": "公司"}).json()["items"]]
    assert ids[0] == "business_register_open"


def test_cached_listings_follow_a_new_version(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from onesource.store import Store
    from onesource.web.deps import get_catalog
    from onesource.web.portal import listing

    store, catalog = Store.open(), get_catalog()
    monkeypatch.setattr(listing, "SNAPSHOT_SECONDS", 0.0)
    first = listing._catalogue(store, catalog)[3]
    assert listing._catalogue(store, catalog)[3] == first  # nothing changed: same pages
    monkeypatch.setattr(listing, "current_numbers", lambda store: {"grid_events_open": 2})
    assert listing._catalogue(store, catalog)[3] != first  # a version moved: pages rebuilt
