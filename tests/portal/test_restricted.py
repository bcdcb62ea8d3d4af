"""Restricted datasets (有条件开放): no rows for anonymous visitors, downloads never cached publicly."""

from __future__ import annotations

from tests.portal.keys import approved_key

HTML = {"accept": "text/html"}
URL = "/datasets/appointments_research/download/data.csv"


def _key(client) -> str:  # type: ignore[no-untyped-def]
    return approved_key(client, ["appointments_research"])


def test_open_page_keeps_its_preview(client) -> None:  # type: ignore[no-untyped-def]
    open_page = client.get("/datasets/business_register_open", headers=HTML)
    assert open_page.status_code == 200
    assert "<h2>数据预览</h2>" in open_page.text


def test_restricted_page_shows_no_rows_to_anonymous_visitors(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/datasets/appointments_research", headers=HTML)
    assert page.status_code == 200
    assert "<h2>数据预览</h2>" not in page.text and "数据字典" in page.text
    key = _key(client)
    row = client.get(URL, headers={"x-consumer-key": key}).content.decode("utf-8-sig")
    row = row.splitlines()[1]
    patient = row.split(",")[0].strip('"')
    assert len(patient) == 32 and patient not in page.text
    en = client.get("/datasets/appointments_research?lang=en", headers=HTML)
    assert "<h2>Preview</h2>" not in en.text


def test_restricted_downloads_are_private_and_vary_on_credentials(client) -> None:  # type: ignore[no-untyped-def]
    key = _key(client)
    for headers in ({"x-consumer-key": key}, {"authorization": f"Bearer {key}"}):
        r = client.get(URL, headers=headers)
        assert r.status_code == 200
        assert r.headers["cache-control"] == "private, no-store"
        assert "authorization" in r.headers["vary"].lower()
        assert "x-consumer-key" in r.headers["vary"].lower()
        again = client.get(URL, headers={**headers, "if-none-match": r.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == "private, no-store"
    anon = client.get(URL)
    assert anon.status_code == 401 and "public" not in anon.headers.get("cache-control", "")


def test_open_downloads_stay_publicly_cacheable(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/datasets/business_register_open/download/data.csv")
    assert r.headers["cache-control"] == "public, max-age=300"
