"""``onesource objection ...`` through the installed script: exit 0 on success, 1 on a
refusal (never a silent 0), 2 on misuse."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.cli.harness import Hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path) -> dict[str, Any]:
    from onesource.catalog.loader import load_catalog
    from onesource.store import Store
    from tests.exchange.fixtures import commit, people

    h = Hub.create(tmp_path_factory.mktemp("objection-cli"))
    shutil.copyfile(migrated_db, h.home / "onesource.db")
    store = Store(h.env["ONESOURCE_DB_URL"], h.env["ONESOURCE_WAREHOUSE"])
    catalog = load_catalog(h.catalog).raise_for_issues()
    rows = people()
    commit(store, catalog, "population_register", rows)
    return {"hub": h, "store": store, "catalog": catalog, "people": rows}


def _run(hub: dict[str, Any], *args: str) -> Any:
    """The installed script (a subprocess, ~2 s each: kept for the exit-code contract)."""
    return hub["hub"].run("objection", *args, timeout=120)


def _invoke(hub: dict[str, Any], monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """The same command in-process (the rest of the checks, at no start-up cost)."""
    from typer.testing import CliRunner

    from onesource.cli.main import app
    from onesource.settings import get_settings

    for k, v in hub["hub"].env.items():
        if k.startswith("ONESOURCE_"):
            monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["objection", *args])
    finally:
        get_settings.cache_clear()
    # in-process the script's error handler (which prints "Error: ...") is not around
    result.text = result.output + str(result.exception or "")  # type: ignore[attr-defined]
    return result


def test_raise_list_answer(hub: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.exchange.fixtures import commit

    person = hub["people"][0]
    key = f"id_number={person['id_number']}"
    # misuse: a key without '=' is a usage error (2)
    bad = _run(
        hub, "raise", "population_register", "name", "-d", "edu", "--key", "x", "--reason", "r"
    )
    assert bad.returncode == 2, bad.stdout + bad.stderr
    # refused: the source department objecting to its own data (1, with the reason)
    own = _run(
        hub, "raise", "population_register", "name", "-d", "psb", "--key", key, "--reason", "r"
    )
    assert own.returncode == 1 and "psb is the source" in own.stdout + own.stderr
    done = _run(
        hub, "raise", "population_register", "name", "-d", "edu", "--key", key,
        "--reason", "与学籍登记不一致", "--observed", person["name"], "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    info = json.loads(done.stdout)
    assert (info["raised_by"], info["source_department"]) == ("edu", "psb")
    run = lambda *a: _invoke(hub, monkeypatch, *a)  # noqa: E731
    assert run("list", "-d", "nowhere").exit_code == 2
    listed = run("list", "-d", "psb", "--incoming", "--status", "open")
    assert listed.exit_code == 0 and info["id"] in listed.output
    assert info["id"] not in run("list", "-d", "civil").output
    # civil may not answer it; edu (the raiser) neither; psb needs a newer version
    for dept in ("civil", "edu"):
        other = run("answer", info["id"], "-d", dept, "--status", "rejected", "--text", "x")
        assert other.exit_code == 1, other.output
    stale = run("answer", info["id"], "-d", "psb", "--status", "corrected", "--version", "1")
    assert stale.exit_code == 1 and "not newer" in stale.text
    fixed = [dict(p) for p in hub["people"]]
    fixed[0]["name"] = "张叁"
    new = commit(hub["store"], hub["catalog"], "population_register", fixed)
    ok = _run(
        hub, "answer", info["id"], "-d", "psb", "--status", "corrected", "--version", str(new)
    )
    assert ok.returncode == 0 and f"corrected v{new}" in ok.stdout, ok.stdout + ok.stderr
    again = run("answer", info["id"], "-d", "psb", "--status", "rejected", "--text", "x")
    assert again.exit_code == 1 and "already answered" in again.text


def test_from_consistency_raises_each_mismatch_once(
    hub: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa

    from onesource.pipeline.outputs import consistency_report
    from schemas.arrow import resource_schema

    store, catalog = hub["store"], hub["catalog"]
    res = catalog.resources["social_assistance"]
    person = hub["people"][3]
    row = {
        "id_number": person["id_number"],
        "name": "赵陆",
        "monthly_amount": None,
        "household_division": "339903",
        "family_situation": "x",
    }
    rows = [{**row, "assistance_type": t} for t in ("dibao", "tekun")]  # the key twice
    copy = pa.Table.from_pylist(rows, schema=resource_schema(catalog, res))
    with store.begin_run("ingest", "social_assistance") as run:
        report = consistency_report(store, catalog, res, copy)
        store.record_quality(run.id, "social_assistance", {"consistency": report}, True)
        run.finish("succeeded")
    run_ = lambda *a: _invoke(hub, monkeypatch, *a)  # noqa: E731
    assert run_("from-consistency", "social_assistance", "-d", "edu").exit_code == 1  # not edu's
    first = run_("from-consistency", "social_assistance", "-d", "civil", "--json")
    assert first.exit_code == 0, first.text
    raised = json.loads(first.stdout)
    # civil holds a copy of person.name but no grant on psb's: the source value is not
    # shown to it, so the objection records none (tests/attacks/test_console_attacks.py)
    assert [(o["field"], o["observed"], o["expected"]) for o in raised] == [("name", None, "赵陆")]
    assert person["name"] not in first.stdout
    again = run_("from-consistency", "social_assistance", "-d", "civil")
    assert again.exit_code == 0 and "0 objection(s) raised" in again.output
