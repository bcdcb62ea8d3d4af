"""/register for restricted data: an application the publishing department decides.

Attacks: an instant key for any name and e-mail; a key for dataset A reading
restricted dataset B; a refused application getting a key; a forged cross-site POST;
guessing an application's status without its token; seeing the key twice.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.harness import onesource_bin

HTML = {"accept": "text/html"}
A = "appointments_research"  # restricted, published by health
B = "property_stock_by_district"  # restricted, published by housing
URL = "/datasets/{}/download/data.csv"


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]


def _apply(client, datasets: list[str], **over: str):  # type: ignore[no-untyped-def]
    form = client.get("/register", headers=HTML)
    data = {
        "name": "王五",
        "organisation": "清河大学",
        "email": "lab@example.edu",
        "purpose": "waiting-time research",
        "datasets": datasets,
        "accept": "yes",
        "csrf": _csrf(form.text),
        **over,
    }
    return client.post("/register", data=data, headers=HTML)


def _submitted(page: str) -> tuple[str, str]:
    app_id = page.split('id="application-id">')[1].split("<")[0]
    token = page.split('id="application-token">')[1].split("<")[0]
    return app_id, token


def _status(client, app_id: str, token: str):  # type: ignore[no-untyped-def]
    form = client.get("/register/status", headers=HTML)
    return client.post(
        "/register/status",
        data={"application": app_id, "token": token, "csrf": _csrf(form.text)},
        headers=HTML,
    )


def _key(page: str) -> str | None:
    found = re.search(r'id="consumer-key">([^<]+)<', page)
    return found.group(1) if found else None


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ONESOURCE_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [onesource_bin(), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_attack_any_name_and_email_cannot_download_restricted_data(client) -> None:  # type: ignore[no-untyped-def]
    """Yesterday's attack, form agnostic: register as anyone, then download A and B."""
    form = client.get("/register", headers=HTML).text
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', form)
    page = client.post(
        "/register",
        data={
            "name": "anyone",
            "organisation": "nowhere",
            "email": "anyone@example.org",
            "purpose": "curiosity",
            "datasets": [A, B],
            "accept": "yes",
            **({"csrf": token.group(1)} if token else {}),
        },
        headers=HTML,
    )
    key = _key(page.text) or "oc_none"
    for name in (A, B):
        got = client.get(URL.format(name), headers={"x-consumer-key": key})
        assert got.status_code in (401, 403), (name, got.status_code)


def test_an_application_gets_no_instant_key(client) -> None:  # type: ignore[no-untyped-def]
    page = _apply(client, [A])
    assert page.status_code == 200
    assert _key(page.text) is None  # today: a key on the spot
    app_id, token = _submitted(page.text)
    status = _status(client, app_id, token)
    assert "pending" in status.text and _key(status.text) is None
    # the old form (name, e-mail, terms) yields nothing either
    old = client.post(
        "/register",
        data={"name": "x", "email": "x@example.org", "accept": "yes"},
        headers=HTML,
    )
    assert old.status_code in (400, 403) and _key(old.text) is None


def test_cross_site_post_without_the_signed_token_is_refused(client, portal_home) -> None:  # type: ignore[no-untyped-def]
    from onesource.store import Store
    from onesource.web.portal.applications import listing

    before = len(listing(Store.open()))
    forged = _apply(client, [A], csrf="0" * 64)
    assert forged.status_code == 403
    client.cookies.clear()
    no_cookie = client.post(
        "/register",
        data={
            "name": "x",
            "organisation": "y",
            "email": "x@example.org",
            "purpose": "p",
            "datasets": [A],
            "accept": "yes",
            "csrf": "ab" * 32,
        },
        headers=HTML,
    )
    assert no_cookie.status_code == 403
    assert len(listing(Store.open())) == before


def test_approved_key_reaches_only_the_granted_dataset(client, portal_home) -> None:  # type: ignore[no-untyped-def]
    app_id, token = _submitted(_apply(client, [A]).text)
    listed = _cli(portal_home, "consumer", "applications", "--department", "health", "--json")
    assert listed.returncode == 0, listed.stderr
    row = next(a for a in json.loads(listed.stdout) if a["id"] == app_id)
    assert row["status"] == "pending" and row["datasets"] == [A] and not row["overdue"]
    wrong = _cli(portal_home, "consumer", "approve", app_id, "--department", "housing")
    assert wrong.returncode == 1 and "health" in wrong.stderr
    beyond = _cli(portal_home, "consumer", "approve", app_id, "--datasets", B)
    assert beyond.returncode == 1 and "can grant only datasets applied for" in beyond.stderr
    approved = _cli(portal_home, "consumer", "approve", app_id, "--by", "dr.li")
    assert approved.returncode == 0, approved.stderr
    printed = approved.stdout.strip().splitlines()[-1]
    assert printed.startswith("oc_")
    twice = _cli(portal_home, "consumer", "approve", app_id)
    assert twice.returncode == 1 and "already approved" in twice.stderr
    # the clear key is nowhere in the metadata DB (hash + a copy sealed to the token only)
    # (grep in another process: opening the DB file here would drop this process's SQLite locks)
    dbs = [str(p) for p in portal_home.glob("onesource.db*")]
    grep = subprocess.run(["grep", "-a", "-l", "-F", printed, *dbs], capture_output=True, text=True)
    assert dbs and grep.returncode == 1, grep.stdout

    first = _status(client, app_id, token)
    key = _key(first.text)
    assert key == printed and "approved" in first.text
    assert first.headers["cache-control"] == "no-store"
    assert _key(_status(client, app_id, token).text) is None  # shown once, never again

    headers = {"x-consumer-key": key}
    assert client.get(URL.format(A), headers=headers).status_code == 200
    other = client.get(f"/api/open/datasets/{B}")
    files = sorted(other.json()["files"])
    b_file = "data.csv" if "data.csv" in files else files[0]
    denied = client.get(f"/datasets/{B}/download/{b_file}", headers=headers)
    assert denied.status_code == 403
    assert client.post(f"/api/open/datasets/{B}/links", headers=headers).status_code == 403
    assert client.get(f"/api/open/datasets/{B}/rows", headers=headers).status_code == 403
    link = client.post(f"/api/open/datasets/{A}/links", headers=headers)
    assert link.status_code == 200

    again = _cli(portal_home, "consumer", "refuse", app_id, "--reason", "late")
    assert again.returncode == 1 and "already approved" in again.stderr

    from onesource.exchange.audit import AuditLog
    from onesource.store import Store

    audit = AuditLog(Store.open().engine).query(department="health", result="approved")
    mine = [e for e in audit if e["endpoint"] == f"consumer-application:{app_id}"]
    assert mine and mine[0]["purpose"] == "approved by dr.li" and mine[0]["resource"] == A


def test_refused_application_gets_no_key(client, portal_home) -> None:  # type: ignore[no-untyped-def]
    app_id, token = _submitted(_apply(client, [B]).text)
    refused = _cli(
        portal_home, "consumer", "refuse", app_id, "--reason", "aggregate suffices", "--by", "z"
    )
    assert refused.returncode == 0, refused.stderr
    assert "oc_" not in refused.stdout
    status = _status(client, app_id, token)
    assert "refused" in status.text and "aggregate suffices" in status.text
    assert _key(status.text) is None
    late = _cli(portal_home, "consumer", "approve", app_id)
    assert late.returncode == 1 and "already refused" in late.stderr

    from onesource.exchange.audit import AuditLog
    from onesource.store import Store

    audit = AuditLog(Store.open().engine).query(department="housing", result="refused")
    assert any(e["endpoint"] == f"consumer-application:{app_id}" for e in audit)


def test_status_needs_the_secret_token(client) -> None:  # type: ignore[no-untyped-def]
    app_id, token = _submitted(_apply(client, [A]).text)
    assert app_id.startswith("ca_") and len(app_id) >= 16 and len(token) >= 32
    assert (
        _status(client, app_id, token[:-1] + ("A" if token[-1] != "A" else "B")).status_code == 404
    )
    assert _status(client, "ca_guess", token).status_code == 404


def test_bad_applications_are_refused_with_a_reason(client) -> None:  # type: ignore[no-untyped-def]
    both = _apply(client, [A, B])
    assert both.status_code == 400 and "one application per department" in both.text
    opened = _apply(client, ["business_register_open"])
    assert opened.status_code == 400 and "business_register_open" in opened.text
    assert _apply(client, []).status_code == 400
    assert _apply(client, [A], accept="").status_code == 400
    assert _apply(client, [A], purpose=" ").status_code == 400


def test_cli_exit_codes(portal_home) -> None:  # type: ignore[no-untyped-def]
    unknown = _cli(portal_home, "consumer", "approve", "ca_nosuchapplication")
    assert unknown.returncode == 1 and "ca_nosuchapplication" in unknown.stderr
    unknown = _cli(portal_home, "consumer", "refuse", "ca_nosuchapplication", "--reason", "x")
    assert unknown.returncode == 1
    assert _cli(portal_home, "consumer", "refuse", "ca_x").returncode == 2  # --reason missing
    assert _cli(portal_home, "consumer", "approve").returncode == 2
    assert _cli(portal_home, "consumer", "applications", "--bogus").returncode == 2


def test_overdue_after_ten_working_days(portal_home) -> None:  # type: ignore[no-untyped-def]
    from onesource.catalog.loader import load_catalog
    from onesource.store import Store
    from onesource.web.portal.applications import add_working_days, listing, submit

    friday = datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert add_working_days(friday, 10) == datetime(2026, 12, 11, 9, tzinfo=UTC)
    saturday = friday + timedelta(days=1)
    assert add_working_days(saturday, 1) == datetime(2026, 11, 30, 9, tzinfo=UTC)
    store = Store.open()
    catalog = load_catalog(Path(os.environ["ONESOURCE_CATALOG"])).raise_for_issues()
    done = submit(
        store,
        catalog,
        name="n",
        organisation="o",
        email="e@x.org",
        purpose="p",
        datasets=[A],
        now=datetime(2025, 1, 3, 9, tzinfo=UTC),  # a Friday long past: overdue today too
    )
    assert done.due_at == datetime(2025, 1, 17, 9, tzinfo=UTC)
    on_time = {a["id"]: a for a in listing(store, "health", now=done.due_at)}
    assert not on_time[done.id]["overdue"]
    late = {a["id"]: a for a in listing(store, "health", now=done.due_at + timedelta(hours=1))}
    assert late[done.id]["overdue"]
    text = _cli(portal_home, "consumer", "applications", "--department", "health")
    assert text.returncode == 0 and re.search(rf"{done.id}.*OVERDUE", text.stdout)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_register_page_lists_restricted_datasets_without_javascript(client, lang) -> None:  # type: ignore[no-untyped-def]
    page = client.get(f"/register?lang={lang}", headers=HTML)
    assert page.status_code == 200 and "<script" not in page.text
    assert f'value="{A}"' in page.text and f'value="{B}"' in page.text
    assert 'value="business_register_open"' not in page.text
    assert "onesource_csrf" in page.headers["set-cookie"]
