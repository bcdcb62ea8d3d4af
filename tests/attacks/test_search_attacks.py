"""Attacks on the portal's listing and search parameters: no 500 for any input.

``str.isdigit`` is true for digits ``int`` refuses (``²``, ``①``): a page number or a
link's expiry written with them must be treated as not a number, not crash the page.
The world is the repository's catalog with no release built.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attacks.world import portal_home

HTML = {"accept": "text/html"}
ODD_DIGITS = ["²", "①", "٣", "𝟠", "1²", "-1", "99999", "0", " 2"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator:  # type: ignore[type-arg]
    from fastapi.testclient import TestClient

    from onesource.web.app import create_app

    with portal_home(tmp_path_factory.mktemp("search-attacks")):
        yield TestClient(create_app(), raise_server_exceptions=False)


@pytest.mark.parametrize("page", ODD_DIGITS)
def test_a_page_number_in_other_digits_is_page_one_not_a_500(client, page) -> None:  # type: ignore[no-untyped-def]
    for q in ("", "网格"):
        answer = client.get("/", params={"q": q, "page": page}, headers=HTML)
        assert answer.status_code == 200, (page, answer.text[:300])


@pytest.mark.parametrize("expires", ["²", "①", "٣٣٣٣٣٣٣٣٣٣"])
def test_a_download_link_expiry_in_other_digits_is_invalid_not_a_crash(expires) -> None:  # type: ignore[no-untyped-def]
    from onesource.web.portal import links

    assert links.verify("grid_events_open", "data.csv", 1, expires, "c1", "0" * 64) is None
