"""Attacks on published microdata: each one got through before, each must fail now.

k and l are measured with pycanon (an independent implementation), never with
the engine's own figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pycanon import anonymity
from test_releases import CATALOG, world  # noqa: F401  (the demo world fixture)

from onesource.release.build import build_release
from onesource.release.spec import ReleaseRefused
from onesource.store import Store
from schemas.catalog import Catalog
from schemas.release import Release

AGE = {"type": "age", "widths": [5, 10, 20]}
# every test runs in the demo world of test_releases (curated demo inputs, key set)
pytestmark = pytest.mark.usefixtures("world")


def release(name: str, columns: dict[str, Any], **extra: Any) -> Release:
    """A microdata release of the demo appointments."""
    doc = {
        "name": name,
        "title": name,
        "title_en": name,
        "summary": "attack test",
        "kind": "microdata",
        "publisher": "health",
        "open_class": "restricted",
        "open_condition": "test",
        "update_cycle": "monthly",
        "theme": "health",
        "inputs": [{"resource": "appointments"}],
        "columns": {
            n: ({"source": f"appointments.{c}", "technique": "keep"} if isinstance(c, str) else c)
            for n, c in columns.items()
        },
        **extra,
    }
    return Release.model_validate(doc)


def catalog_with(*releases: Release) -> Catalog:
    """The demo catalog with exactly these releases (no demo release interferes)."""
    cat = CATALOG.model_copy(deep=True)
    cat.releases = {r.name: r for r in releases}
    return cat


def published(store: Store, name: str) -> tuple[pa.Table, dict[str, Any]]:
    with store.open_file("release", name, "risk_report.json") as fh:
        report = json.loads(fh.read())
    return store.read("release", name), report


def test_declared_quasi_identifier_of_any_pii_class_is_enforced() -> None:
    """Attack: `hospital` (pii none) declared a quasi-identifier was ignored; the
    published file had tiny classes while the risk report said k=5."""
    rel = release(
        "attack_qi_class",
        {
            "age": {
                "source": "appointments.birth_date",
                "technique": "generalize",
                "hierarchy": AGE,
                "level": "auto",
            },
            "sex": "sex",
            "hospital": "hospital",
            "department": "department",
        },
        quasi_identifiers=["age", "sex", "hospital", "department"],
        k=5,
        suppression_limit=0.05,
    )
    store = Store.open()
    build_release(rel.name, store=store, catalog=catalog_with(rel))
    table, report = published(store, rel.name)
    declared = ["age", "sex", "hospital", "department"]
    assert report["quasi_identifiers"] == declared
    k = anonymity.k_anonymity(table.to_pandas(), declared)
    assert k == report["k_reached"] >= 5


def test_l_diversity_only_on_declared_sensitive_columns() -> None:
    """Attack (refusal of a feasible release): l applied to every kept sensitive
    column, so a top-coded fee with one value made l=2 impossible."""
    rel = release(
        "attack_l_scope",
        {
            "age": {
                "source": "appointments.birth_date",
                "technique": "generalize",
                "hierarchy": AGE,
                "level": "auto",
            },
            "sex": "sex",
            "diagnosis_category": "diagnosis_category",
            "fee": {"source": "appointments.fee", "technique": "top_bottom_code", "top": 0.01},
        },
        quasi_identifiers=["age", "sex"],
        sensitive=["diagnosis_category"],
        k=5,
        l=2,
        suppression_limit=0.05,
    )
    store = Store.open()
    build_release(rel.name, store=store, catalog=catalog_with(rel))
    table, report = published(store, rel.name)
    assert set(table["fee"].to_pylist()) == {">=0.01"}
    df = table.to_pandas()
    assert anonymity.l_diversity(df, ["age", "sex"], ["diagnosis_category"]) >= 2
    assert report["sensitive_attributes"] == ["diagnosis_category"]


def test_row_order_carries_nothing() -> None:
    """Attack: releases of one input joined by row position. Published rows must
    be in a random order, not the input's."""
    rel = release(
        "attack_row_order",
        {"number": "appointment_number", "hospital": "hospital"},
    )
    store = Store.open()
    build_release(rel.name, store=store, catalog=catalog_with(rel))
    table, _ = published(store, rel.name)
    source = store.read("resource", "appointments")["appointment_number"].to_pylist()
    position = {v: i for i, v in enumerate(source)}
    order = [position[v] for v in table["number"].to_pylist()]
    ascending = sum(b > a for a, b in zip(order, order[1:], strict=False)) / (len(order) - 1)
    assert 0.45 < ascending < 0.55  # input order would give 1.0


def _age_sex(name: str, links: list[str] | None = None, **cols: Any) -> Release:
    return release(
        name,
        {
            "age": {
                "source": "appointments.birth_date",
                "technique": "generalize",
                "hierarchy": AGE,
                "level": "auto",
            },
            "sex": "sex",
            **cols,
        },
        quasi_identifiers=["age", "sex"],
        k=5,
        suppression_limit=0.05,
        links_with=links or [],
    )


def _dept_hospital(name: str, links: list[str] | None = None, **cols: Any) -> Release:
    return release(
        name,
        {"department": "department", "hospital": "hospital", "sex": "sex", **cols},
        quasi_identifiers=["department", "hospital", "sex"],
        k=5,
        suppression_limit=0.05,
        links_with=links or [],
    )


def test_releases_linked_by_a_shared_unique_column_are_refused() -> None:
    """Attack: two k=5 releases of one input both publish the appointment number;
    joined on it, age+sex+department+hospital single out people."""
    a = _age_sex("attack_link_a", number="appointment_number")
    b = _dept_hospital("attack_link_b", number="appointment_number")
    cat = catalog_with(a, b)
    store = Store.open()
    build_release(a.name, store=store, catalog=cat)
    before = store.current("release", b.name)
    with pytest.raises(
        ReleaseRefused, match=r"combines with published release\(s\) 'attack_link_a'"
    ):
        build_release(b.name, store=store, catalog=cat)
    assert store.current("release", b.name) == before  # nothing published
    # the same release without the shared key builds (sex, a quasi-identifier of
    # both, is the only link left and cannot split a class)
    alone = _dept_hospital("attack_link_b")
    build_release(alone.name, store=store, catalog=catalog_with(a, alone))


def test_combination_check_measures_what_the_attacker_gets() -> None:
    """The refused combination really is below k (pycanon on the joined files)."""
    from onesource.anonymize import anonymize
    from onesource.release.spec import build_spec, input_table

    a = _age_sex("attack_measure_a", number="appointment_number")
    b = _dept_hospital("attack_measure_b", number="appointment_number")
    cat = catalog_with(a, b)
    store = Store.open()
    build_release(a.name, store=store, catalog=cat)
    ta, _ = published(store, a.name)
    table, sources = input_table(b, cat, lambda r: store.read("resource", r))
    spec, table = build_spec(b, cat, table, sources, __import__("datetime").date.today())
    tb, _ = anonymize(table, spec)
    joined = ta.join(tb, "number", join_type="inner", right_suffix="_b").to_pandas()
    k = anonymity.k_anonymity(joined, ["age", "sex", "department", "hospital", "sex_b"])
    assert k < 5
    from onesource.release import linkage

    (combo,) = linkage.check(cat, b, tb, lambda n: published(store, n))
    assert combo.k == k and not combo.ok


def test_pseudonyms_do_not_link_unless_both_releases_declare_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Attack: with only the hub-wide key set, two releases published identical
    pseudonyms (3,000 of 3,000), linking age+sex to department+hospital."""
    patient = {"source": "appointments.id_number", "technique": "pseudonymize"}
    a = _age_sex("attack_pseudo_a", patient=patient)
    b = _dept_hospital("attack_pseudo_b", patient=patient)
    store = Store.open()
    cat = catalog_with(a, b)
    build_release(a.name, store=store, catalog=cat)
    build_release(b.name, store=store, catalog=cat)
    pa_, _ = published(store, a.name)
    pb_, _ = published(store, b.name)
    assert not set(pa_["patient"].to_pylist()) & set(pb_["patient"].to_pylist())
    # declared on both sides: one key, shared pseudonyms, and then k must hold
    # on the combination, which it does not here
    la = _age_sex("attack_pseudo_c", patient=patient, links=["attack_pseudo_d"])
    lb = _dept_hospital("attack_pseudo_d", patient=patient, links=["attack_pseudo_c"])
    cat = catalog_with(la, lb)
    build_release(la.name, store=store, catalog=cat)
    with pytest.raises(ReleaseRefused, match=r"attack_pseudo_c.*joined on \[.*patient.*\].*k=1 "):
        build_release(lb.name, store=store, catalog=cat)


def test_risk_report_without_quasi_identifiers_and_changelog_levels() -> None:
    store = Store.open()
    cat = CATALOG
    build_release("grid_events_open", store=store, catalog=cat)
    _, report = published(store, "grid_events_open")
    assert report["k_reached"] == "not applicable"
    assert report["generalization_levels"]["reported_month"]["label"] == "month"
    # a level change between versions shows in the changelog
    rel = _age_sex("attack_changelog")
    build_release(rel.name, store=store, catalog=catalog_with(rel))
    coarser = rel.model_copy(deep=True)
    coarser.k = 50
    build_release(rel.name, store=store, catalog=catalog_with(coarser))
    with store.open_file("release", rel.name, "changelog.json") as fh:
        log = json.loads(fh.read())
    change = log["generalization_changed"]
    assert change["from"]["age"]["level"] < change["to"]["age"]["level"]
    assert change["to"]["age"]["label"].endswith("age bands") or change["to"]["age"][
        "label"
    ].startswith("*")


def _validate(tmp_path: Path, edit: str, column: str = "") -> subprocess.CompletedProcess[str]:
    import shutil

    root = tmp_path / "catalog"
    shutil.copytree("catalog", root)
    path = root / "releases" / "appointments_research.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("quasi_identifiers: [age, sex, department, visit_month]", edit)
    if column:
        text = text.replace("hierarchy: {type: date}, level: 1}", column)
    path.write_text(text, encoding="utf-8")
    exe = Path(sys.executable).parent / "onesource"
    return subprocess.run(
        [str(exe), "catalog", "validate", "--root", str(root)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_validate_requires_every_quasi_column_declared_or_exempted(tmp_path: Path) -> None:
    """A generalized quasi-identifier left out of quasi_identifiers used to pass."""
    res = _validate(tmp_path, "quasi_identifiers: [age, sex, department]")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "visit_month" in res.stdout + res.stderr and "quasi_identifiers" in res.stdout


def test_validate_shows_a_reasoned_exemption(tmp_path: Path) -> None:
    res = _validate(
        tmp_path,
        "quasi_identifiers: [age, sex, department]",
        "hierarchy: {type: date}, level: 1, quasi_exemption: visit months are public timetables}",
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "visit months are public timetables" in res.stdout + res.stderr
