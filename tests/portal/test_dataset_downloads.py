"""Downloads: titled CSV derived from the published bytes, versioned file names, counts of
completed downloads (200 and the first range; never 304 or a later range)."""

from __future__ import annotations

import hashlib
from urllib.parse import unquote

from onesource.web.portal import downloads

CSV = "/datasets/grid_events_open/download/data.csv"


def test_titled_csv_keeps_the_published_rows_byte_for_byte(client) -> None:  # type: ignore[no-untyped-def]
    meta = client.get("/api/open/datasets/grid_events_open").json()
    plain = client.get(CSV)
    titled = client.get(CSV, params={"header": "title"})
    assert hashlib.sha256(plain.content).hexdigest() == meta["files"]["data.csv"]["sha256"]
    head, _, rows = titled.content.partition(b"\n")
    assert rows == plain.content.partition(b"\n")[2]
    assert head.decode("utf-8-sig") == '"事件编号","事件类型","事件区划","上报月份","是否办结"'
    assert titled.headers["etag"] != plain.headers["etag"]
    assert titled.headers["accept-ranges"] == "none"
    assert int(titled.headers["content-length"]) == len(titled.content)
    assert "data-title.csv" in titled.headers["content-disposition"]
    en = client.get(CSV, params={"header": "title", "lang": "en"})
    assert en.content.partition(b"\n")[0].decode("utf-8-sig").startswith('"Event number"')
    assert client.get(CSV.replace(".csv", ".json"), params={"header": "title"}).status_code == 400


def test_file_name_is_versioned_ascii_and_chinese() -> None:
    from onesource.web.portal.files import disposition
    from tests.conftest import _catalog

    release = _catalog().releases["hotline_tickets_monthly"]
    value = disposition(release, 3, "data.csv")
    assert 'filename="hotline_tickets_monthly-v3-data.csv"' in value
    star = value.split("filename*=UTF-8''", 1)[1]
    assert unquote(star) == "12345热线诉求月度统计-v3-data.csv" and star.isascii()


def test_completed_downloads_are_counted(client) -> None:  # type: ignore[no-untyped-def]
    from onesource.store import Store

    store = Store.open()
    before = downloads.file_counts(store, "grid_events_open")["files"].get("data.csv", 0)
    total = downloads.download_counts(store).get("grid_events_open", 0)
    full = client.get(CSV)
    client.get(CSV, headers={"if-none-match": full.headers["etag"]})  # 304: not counted
    assert client.get(CSV, headers={"range": "bytes=0-99"}).status_code == 206  # counted
    assert client.get(CSV, headers={"range": "bytes=100-"}).status_code == 206  # resumed: not
    client.get(CSV, params={"header": "title"})  # the same data: counted as data.csv
    after = downloads.file_counts(store, "grid_events_open")
    assert after["files"]["data.csv"] - before == 3
    assert downloads.download_counts(store)["grid_events_open"] - total == 3
    assert downloads.counts is downloads.download_counts  # the listing's "most downloaded"
    page = client.get("/datasets/grid_events_open", headers={"accept": "text/html"}).text
    shown = f'data-count="data.csv">{after["files"]["data.csv"]:,}<'
    assert shown in page


def test_an_unwritten_batch_stays_pending(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from onesource.store import Store

    store = Store.open()
    before = downloads.file_counts(store, "hotline_tickets_monthly")["total"]
    downloads.record(store, "hotline_tickets_monthly", 1, "data.json")

    def busy(*_a: object) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(downloads, "_write", busy)
    downloads.flush(store)  # fails: kept for the next flush
    monkeypatch.undo()
    assert downloads.file_counts(store, "hotline_tickets_monthly")["total"] == before + 1
