"""Releases from the demo world: every demo release builds, passes the leak gate and verifies."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from onesource.catalog.loader import load_catalog
from onesource.release.build import build_release
from onesource.release.spec import ReleaseRefused
from onesource.release.verify import verify_release
from onesource.store import Store

CATALOG = load_catalog("catalog").raise_for_issues()
KEY = "k" * 40


def _curated(store: Store, name: str, table: pa.Table) -> None:
    from schemas.arrow import resource_schema

    schema = resource_schema(CATALOG, CATALOG.resources[name])
    with (
        store.begin_run("ingest", name) as run,
        store.open_writer("resource", name, run.id, schema) as w,
    ):
        w.write(table.select(schema.names).cast(schema))
        w.commit()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Curated versions of every release input, straight from the demo generators."""
    import numpy as np

    from onesource.demo import datasets as ds
    from onesource.demo.people import generate_people

    home = tmp_path_factory.mktemp("rel")
    mp = pytest.MonkeyPatch()
    mp.setenv("ONESOURCE_HOME", str(home))
    from onesource.settings import get_settings

    get_settings.cache_clear()
    rng = np.random.default_rng(5)
    folk = generate_people(40_000, 5)
    firms = ds.businesses(rng, folk, {})
    ok = firms.filter(pa.array(np.arange(firms.num_rows) >= 0))
    store = Store.open()
    tables = {
        "appointments": ds.appointments(rng, folk, {}),
        "service_ratings": ds.ratings(rng, folk),
        "hotline_tickets": ds.tickets(rng, folk),
        "grid_events": ds.grid_events(rng, folk),
        "properties": ds.properties(rng, folk, ok, {}),
        "abnormal_operations": ds.abnormal(rng, ok),
    }
    from onesource.quality.domain import credit_code_valid

    tables["business_register"] = firms.filter(pa.array(credit_code_valid(firms["credit_code"])))
    for name, t in tables.items():
        _curated(store, name, t)
    mp.setenv("ONESOURCE_RELEASE_KEY", KEY)
    yield home
    mp.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize("name", sorted(CATALOG.releases))
def test_demo_release_builds_and_verifies(world: Path, name: str) -> None:
    store = Store.open()
    result = build_release(name, store=store, catalog=CATALOG)
    files = set(store.files("release", name))
    assert {
        "data.csv",
        "data.parquet",
        "data.json",
        "datapackage.json",
        "dcat.jsonld",
        "checksums.sha256",
        "risk_report.json",
        "changelog.json",
        "changelog.md",
        "metadata.json",
    } <= files
    rep = verify_release(name, store=store)
    assert rep.ok, rep.problems
    with store.open_file("release", name, "data.csv") as fh:
        head = fh.read(64)
    assert head.startswith("\ufeff".encode())
    assert result.rows > 0


def test_microdata_k_and_l_equal_pycanon(world: Path) -> None:
    from pycanon import anonymity

    store = Store.open()
    build_release("appointments_research", store=store, catalog=CATALOG)
    table = store.read("release", "appointments_research")
    with store.open_file("release", "appointments_research", "risk_report.json") as fh:
        risk = json.loads(fh.read())
    qis = risk["quasi_identifiers"]
    df = table.to_pandas()
    assert anonymity.k_anonymity(df, qis) == risk["k_reached"] >= 5
    assert (
        anonymity.l_diversity(df, qis, ["diagnosis_category"])
        == risk["l_reached"]["diagnosis_category"]
        >= 2
    )
    # the patient is a keyed pseudonym, never the ID number
    assert all(len(p) == 32 for p in table["patient"].to_pylist()[:100])


def test_deliberate_leak_is_caught_and_nothing_published(world: Path) -> None:
    store = Store.open()
    before = store.current("release", "hotline_tickets_monthly")
    # an ID number hidden in a free-text column that a bad release keeps
    tickets = store.read("resource", "hotline_tickets")
    content = tickets["content"].to_pylist()
    content[3] = "来电人身份证号339902198001011234请回电"
    from schemas.identifiers import id_check_char

    content[3] = content[3].replace(
        "339902198001011234", "33990219800101123" + id_check_char("33990219800101123")
    )
    _curated(
        store,
        "hotline_tickets",
        tickets.set_column(tickets.column_names.index("content"), "content", pa.array(content)),
    )
    leaky = CATALOG.model_copy(deep=True)
    from schemas.release import ReleaseColumn

    bad = leaky.releases["hotline_tickets_monthly"].model_copy(deep=True)
    bad.kind = bad.kind.__class__("microdata")
    bad.aggregate = None
    bad.columns["content"] = ReleaseColumn(source="hotline_tickets.content", technique="keep")
    bad.columns.pop("caller_mobile")
    leaky.releases["hotline_tickets_monthly"] = bad
    from schemas.vocab import PiiClass

    # a steward wrongly classified the free text as not personal: the gate still refuses
    leaky.elements["ticket.content"] = leaky.elements["ticket.content"].model_copy(
        update={"pii": PiiClass.none}
    )
    with pytest.raises(ReleaseRefused, match="leak gate.*content.*id-number"):
        build_release("hotline_tickets_monthly", store=store, catalog=leaky)
    assert store.current("release", "hotline_tickets_monthly") == before


def test_tampering_is_caught_by_verify(world: Path) -> None:
    store = Store.open()
    build_release("grid_events_open", store=store, catalog=CATALOG)
    info = store.current("release", "grid_events_open")
    path = Path(store.warehouse.full(f"{info.path}/data.csv"))
    path.write_bytes(path.read_bytes().replace(b"sanitation", b"SANITATION", 1))
    rep = verify_release("grid_events_open", store=store)
    assert not rep.ok and any(p.startswith("data.csv") for p in rep.problems)


def test_pseudonymization_refuses_without_key(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from schemas.errors import ConfigError

    monkeypatch.delenv("ONESOURCE_RELEASE_KEY")
    with pytest.raises(ConfigError, match="ONESOURCE_RELEASE_KEY"):
        build_release("appointments_research", store=Store.open(), catalog=CATALOG)


def test_failed_publish_keeps_previous_version(
    world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onesource.release import publish

    store = Store.open()
    build_release("business_register_open", store=store, catalog=CATALOG)
    before = store.current("release", "business_register_open")

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(publish, "changelog_md", boom)
    with pytest.raises(RuntimeError):
        build_release("business_register_open", store=store, catalog=CATALOG)
    assert store.current("release", "business_register_open") == before
