"""Aggregate releases end to end: the installed command builds the demo's
statistical tables; the audit links releases of the same input; measures that
cannot be protected are refused.  Attacks are checked with the independent LP
of tests/anonymize/test_aggregate_attacks.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_releases import CATALOG, world  # noqa: F401  (the demo world fixture)

from onesource.release.build import build_release
from onesource.release.spec import ReleaseRefused
from onesource.store import Store
from schemas.catalog import Catalog
from schemas.release import Release

sys.path.insert(0, str(Path(__file__).parents[1] / "anonymize"))
from test_aggregate_attacks import assert_protected, published

pytestmark = pytest.mark.usefixtures("world")
AGGREGATES = sorted(n for n, r in CATALOG.releases.items() if r.aggregate is not None)


def hotline(name: str, by: list[str], **agg: Any) -> Release:
    cols = {
        "category": {"source": "hotline_tickets.category", "technique": "keep"},
        "division": {"source": "hotline_tickets.division", "technique": "keep"},
        "status": {"source": "hotline_tickets.status", "technique": "keep"},
    }
    return Release.model_validate(
        {
            "name": name,
            "title": name,
            "title_en": name,
            "summary": "aggregate test",
            "kind": "aggregate",
            "publisher": "dsj",
            "open_class": "open",
            "update_cycle": "monthly",
            "theme": "public_service",
            "inputs": [{"resource": "hotline_tickets"}],
            "columns": {c: cols[c] for c in by},
            "aggregate": {
                "group_by": by,
                "measures": agg.pop("measures", {"tickets": {"function": "count"}}),
                **{"min_cell": 5, **agg},
            },
        }
    )


def catalog_with(*releases: Release) -> Catalog:
    cat = CATALOG.model_copy(deep=True)
    cat.releases = {r.name: r for r in releases}
    return cat


def test_installed_command_builds_the_demo_aggregates_with_a_proved_audit() -> None:
    exe = Path(sys.executable).parent / "onesource"
    res = subprocess.run(
        [str(exe), "release", "build", *AGGREGATES, "--json"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "NO_COLOR": "1",
        },
    )
    assert res.returncode == 0, res.stdout + res.stderr
    store = Store.open()
    for name in AGGREGATES:
        with store.open_file("release", name, "risk_report.json") as fh:
            report = json.loads(fh.read())
        assert report["exact_check"] is True
        assert report["audit"]["under_protected"] == 0
        table = store.read("release", name)
        by = CATALOG.releases[name].aggregate.group_by  # type: ignore[union-attr]
        sizes = [len(set(table[d].to_pylist())) for d in by]
        expected = 1
        for s in sizes:
            expected *= s
        assert table.num_rows == expected  # every cell listed, empty ones too


def test_min_and_max_are_refused_by_name() -> None:
    rel = hotline(
        "agg_max",
        ["division"],
        measures={
            "tickets": {"function": "count"},
            "latest": {"function": "max", "column": "division"},
        },
    )
    store = Store.open()
    with pytest.raises(ReleaseRefused) as err:
        build_release("agg_max", store=store, catalog=catalog_with(rel))
    msg = str(err.value)
    assert "agg_max" in msg and "latest" in msg and "max" in msg and "division" in msg
    assert store.current("release", "agg_max") is None


def test_second_release_of_the_same_input_is_audited_with_the_first() -> None:
    """category x division, then division x status: the second build reads the
    first's published cells; together they leave every small cell protected."""
    # ~4,000 tickets: a high min_cell makes many cells sensitive
    first = hotline("agg_first", ["category", "division"], margins=True, min_cell=150)
    second = hotline("agg_second", ["division", "status"], margins=True, min_cell=150)
    cat = catalog_with(first, second)
    store = Store.open()
    build_release("agg_first", store=store, catalog=cat)
    build_release("agg_second", store=store, catalog=cat)
    with store.open_file("release", "agg_second", "risk_report.json") as fh:
        report = json.loads(fh.read())
    assert report["audit"]["linked_tables"] == ["agg_first"] and report["exact_check"]
    rows = store.read("resource", "hotline_tickets").select(["category", "division", "status"])
    t1 = store.read("release", "agg_first").rename_columns(
        ["category", "division", "count", "suppressed", "margin"]
    )
    t2 = store.read("release", "agg_second").rename_columns(
        ["division", "status", "count", "suppressed", "margin"]
    )
    k1, h1 = published(t1, ["category", "division"])
    k2, h2 = published(t2, ["division", "status"])
    domains = {
        d: sorted(
            {
                *rows[d].to_pylist(),
                *[
                    v
                    for t in (t1, t2)
                    if d in t.column_names
                    for v in t[d].to_pylist()
                    if v is not None
                ],
            }
        )
        for d in ("category", "division", "status")
    }
    assert_protected(domains, rows, k1 + k2, h1 + h2, threshold=150)
