"""The portal's pages, open API and downloads (ETag, Range, restricted gating, traversal)."""

from __future__ import annotations

import hashlib

import pytest

from tests.portal.keys import approved_key

HTML = {"accept": "text/html"}


@pytest.mark.parametrize(
    "query,expected",
    [
        ("企业", "business_register_open"),
        ("网格事件", "grid_events_open"),
        ("12345", "hotline_tickets_monthly"),
        ("诊断", None),
    ],
    ids=["two-char", "four-char", "digits", "field-name"],
)
def test_search_works_for_chinese(client, query: str, expected: str | None) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/api/open/datasets", params={"q": query}).json()
    ids = [i["id"] for i in body["items"]]
    if expected:
        assert expected in ids
    assert body["total"] == len(ids) and len(ids) < 7


@pytest.mark.parametrize("query", ["\x00", "企\x00业", "\x00\x1f\x7f", '"', "%_\\"])
def test_search_survives_control_characters_and_syntax(client, query: str) -> None:  # type: ignore[no-untyped-def]
    for path in ("/api/open/datasets", "/"):
        response = client.get(path, params={"q": query}, headers=HTML)
        assert response.status_code == 200, response.text[:300]
    body = client.get("/api/open/datasets", params={"q": "企\x00业"}).json()
    assert "business_register_open" in [i["id"] for i in body["items"]]


def test_pages_render_in_both_languages(client) -> None:  # type: ignore[no-untyped-def]
    zh = client.get("/datasets/business_register_open", headers=HTML)
    en = client.get("/datasets/business_register_open?lang=en", headers=HTML)
    assert zh.status_code == en.status_code == 200
    assert "市场主体登记信息（开放版）" in zh.text and "Business register (open edition)" in en.text
    assert "data.csv" in zh.text and "数据字典" in zh.text
    assert client.get("/departments/dsj", headers=HTML).status_code == 200
    assert client.get("/", headers=HTML, params={"q": "好差评"}).status_code == 200


def test_download_checksum_etag_and_range(client) -> None:  # type: ignore[no-untyped-def]
    meta = client.get("/api/open/datasets/business_register_open").json()
    r = client.get("/datasets/business_register_open/download/data.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert hashlib.sha256(r.content).hexdigest() == meta["files"]["data.csv"]["sha256"]
    assert r.content.startswith("\ufeff".encode())
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    assert (
        client.get(
            "/datasets/business_register_open/download/data.csv",
            headers={"if-none-match": r.headers["etag"]},
        ).status_code
        == 304
    )
    part = client.get(
        "/datasets/business_register_open/download/data.csv", headers={"range": "bytes=3-12"}
    )
    assert part.status_code == 206 and part.content == r.content[3:13]
    assert part.headers["content-range"] == f"bytes 3-12/{len(r.content)}"
    tail = client.get(
        "/datasets/business_register_open/download/data.csv", headers={"range": "bytes=-5"}
    )
    assert tail.content == r.content[-5:]
    bad = client.get(
        "/datasets/business_register_open/download/data.csv", headers={"range": "bytes=99999999-"}
    )
    assert bad.status_code == 416
    huge = client.get(
        "/datasets/business_register_open/download/data.csv",
        headers={"range": "bytes=" + "9" * 5000 + "-"},
    )
    assert huge.status_code == 416 and "bytes=first-last" in huge.json()["error"]["message"]
    # resuming with the ETag of another file (a newer version was published since): no splice
    for if_range, status in ((r.headers["etag"], 206), ('"some-older-version"', 200)):
        resumed = client.get(
            "/datasets/business_register_open/download/data.csv",
            headers={"range": "bytes=3-12", "if-range": if_range},
        )
        assert resumed.status_code == status
        assert resumed.content == (r.content[3:13] if status == 206 else r.content)


def test_restricted_release_needs_a_registered_key(client) -> None:  # type: ignore[no-untyped-def]
    url = "/datasets/appointments_research/download/data.csv"
    anon = client.get(url)
    assert anon.status_code == 401 and "register" in anon.json()["error"]["message"]
    key = approved_key(client, ["appointments_research"])
    assert client.get(url, headers={"x-consumer-key": key}).status_code == 200
    assert client.get(url, headers={"x-consumer-key": "oc_wrong"}).status_code == 401
    assert client.get(url, params={"key": key}).status_code == 400  # never in a URL
    refused = client.post("/register", data={"name": "x", "email": "x@example.org"}, headers=HTML)
    assert refused.status_code in (400, 403)  # no CSRF token, no terms: never a key


def test_rows_api_pages_filters_and_refuses_bad_input(client) -> None:  # type: ignore[no-untyped-def]
    first = client.get("/api/open/datasets/grid_events_open/rows", params={"limit": 5}).json()
    second = client.get(
        "/api/open/datasets/grid_events_open/rows", params={"limit": 5, "offset": 5}
    ).json()
    assert len(first["rows"]) == 5 and first["rows"] != second["rows"]
    safety = client.get(
        "/api/open/datasets/grid_events_open/rows", params={"event_type": "safety", "limit": 1000}
    ).json()
    assert safety["rows"] and all(r["event_type"] == "safety" for r in safety["rows"])
    assert (
        client.get("/api/open/datasets/grid_events_open/rows", params={"limit": 5000}).status_code
        == 422
    )
    unknown = client.get("/api/open/datasets/grid_events_open/rows", params={"nope": "1"})
    assert unknown.status_code == 400 and "event_type" in unknown.json()["error"]["message"]
    injected = client.get(
        "/api/open/datasets/grid_events_open/rows", params={"event_type": "x' OR '1'='1"}
    ).json()
    assert injected["total"] == 0
    assert client.get("/api/open/datasets/appointments_research/rows").status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/datasets/..%2F..%2Fetc%2Fpasswd/download/data.csv",
        "/datasets/business_register_open/download/..%2F..%2Fonesource.db",
        "/datasets/business_register_open/download/metadata.json%00.csv",
        "/api/open/datasets/nope",
        "/datasets/Business_Register_Open",
    ],
    ids=["traversal-name", "traversal-file", "nul", "unknown", "case"],
)
def test_hostile_paths_are_4xx_never_5xx(client, path: str) -> None:  # type: ignore[no-untyped-def]
    r = client.get(path)
    assert 400 <= r.status_code < 500


def test_dcat_and_data_json(client) -> None:  # type: ignore[no-untyped-def]
    dcat = client.get("/catalog.jsonld")
    assert dcat.headers["content-type"].startswith("application/ld+json")
    from rdflib import Graph
    from rdflib.namespace import DCAT, RDF

    graph = Graph().parse(data=dcat.text, format="json-ld")
    assert len(set(graph.subjects(RDF.type, DCAT.Dataset))) == 7
    listed = client.get("/api/open/datasets", params={"q": "网格"}).json()["items"][0]
    rows = client.get("/api/open/datasets/grid_events_open/rows", params={"limit": 1}).json()[
        "total"
    ]
    assert listed["rows"] == rows > 0
    assert {d["identifier"] for d in client.get("/data.json").json()["dataset"]} >= {
        "grid_events_open"
    }


def test_rows_from_memory_and_from_a_scan_agree(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A release over the memory budget is scanned per request: the same answers, typed alike."""
    from onesource.web.portal import api

    queries = [
        {"limit": 7, "offset": 0},
        {"limit": 50, "offset": 13},
        {"event_type": "safety", "limit": 20, "offset": 3},
        {"event_type": "safety", "resolved": "true", "limit": 1000},
        {"event_type": "no-such-type"},
        {"limit": 5, "offset": 10_000_000},
    ]
    url = "/api/open/datasets/grid_events_open/rows"
    forget = (api._tables, api._too_big, api._current)
    for cache in forget:
        cache.clear()
    in_memory = [client.get(url, params=q).json() for q in queries]
    assert api._tables, "the release should have been held in memory"
    for cache in forget:
        cache.clear()
    monkeypatch.setattr(api, "ROWS_CACHE_BYTES", 1)
    scanned = [client.get(url, params=q).json() for q in queries]
    assert not api._tables and api._too_big
    assert scanned == in_memory
    assert in_memory[2]["rows"] and in_memory[3]["total"] <= in_memory[2]["total"]
    api._too_big.clear()
