"""Published and exported metadata checked by the standards' own validators.

DCAT-AP 3.0.0: pyshacl with the SEMIC shapes (tests/cases/standards). Frictionless: frictionless-py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHAPES = REPO / "tests" / "cases" / "standards" / "dcat-ap-3.0.0"
ONESOURCE = Path(sys.executable).with_name("onesource")


@pytest.fixture(scope="module")
def shapes():  # type: ignore[no-untyped-def]
    from rdflib import Graph

    g = Graph()
    g.parse(SHAPES / "dcat-ap-SHACL.ttl")
    g.parse(SHAPES / "range.ttl")
    return g


def _conforms(data: str, fmt: str, shapes) -> None:  # type: ignore[no-untyped-def]
    from pyshacl import validate
    from rdflib import Graph

    graph = Graph().parse(data=data, format=fmt)
    assert len(graph) > 0
    ok, _, text = validate(graph, shacl_graph=shapes, inference="none")
    assert ok, text[:4000]


def _export(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ONESOURCE_CATALOG": str(REPO / "catalog")}
    return subprocess.run(
        [str(ONESOURCE), "catalog", "export", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(("fmt", "rdf"), [("dcat", "json-ld"), ("ttl", "turtle")])
def test_catalogue_export_is_dcat_ap(fmt: str, rdf: str, shapes) -> None:  # type: ignore[no-untyped-def]
    done = _export("--format", fmt)
    assert done.returncode == 0, done.stderr
    _conforms(done.stdout, rdf, shapes)


def test_dcat_objects_are_iris_and_dates_typed() -> None:
    from rdflib import Graph, Literal
    from rdflib.namespace import DCAT, DCTERMS, XSD

    done = _export("--format", "dcat")
    g = Graph().parse(data=done.stdout, format="json-ld")
    for prop in (DCTERMS.accessRights, DCTERMS.accrualPeriodicity, DCAT.theme, DCTERMS.publisher):
        values = list(g.objects(None, prop))
        assert values and not any(isinstance(v, Literal) for v in values), prop
    issued = list(g.objects(None, DCTERMS.issued))
    assert issued and all(v.datatype == XSD.date for v in issued)


def test_catalogue_datapackage_validates(tmp_path: Path) -> None:
    from frictionless import validate

    out = tmp_path / "datapackage.json"
    done = _export("--format", "datapackage", "-o", str(out))
    assert done.returncode == 0, done.stderr
    report = validate(str(out))
    assert report.valid, report.flatten(["type", "note"])[:10]


def test_unknown_export_format_is_a_usage_error() -> None:
    done = _export("--format", "xml")
    assert done.returncode == 2
    assert "unknown format 'xml'" in done.stderr


def test_portal_open_catalogue_is_dcat_ap(client, shapes) -> None:  # type: ignore[no-untyped-def]
    from rdflib import Graph
    from rdflib.namespace import DCAT, RDF

    resp = client.get("/catalog.jsonld")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/ld+json")
    _conforms(resp.text, "json-ld", shapes)
    g = Graph().parse(data=resp.text, format="json-ld")
    datasets = set(g.subjects(RDF.type, DCAT.Dataset))
    assert len(datasets) == 7
    for ds in datasets:  # every dataset has distributions with an access URL and a licence
        dists = list(g.objects(ds, DCAT.distribution))
        assert dists
        for dist in dists:
            assert list(g.objects(dist, DCAT.accessURL))


def test_data_json_uses_media_types(client) -> None:  # type: ignore[no-untyped-def]
    items = client.get("/data.json").json()["dataset"]
    types = {d["mediaType"] for item in items for d in item["distribution"]}
    assert types <= {"text/csv", "application/json", "application/vnd.apache.parquet"}, types
    assert "text/csv" in types


def test_every_release_package_validates(portal_home: Path, tmp_path: Path) -> None:
    """Each published release's datapackage.json, with its data files, passes frictionless."""
    from frictionless import validate

    from onesource.catalog.loader import load_catalog
    from onesource.store import Store

    store = Store.open()
    names = sorted(load_catalog(REPO / "catalog").raise_for_issues().releases)
    for name in names:
        folder = tmp_path / name
        folder.mkdir()
        for file in ("datapackage.json", "data.csv", "data.json", "data.parquet"):
            with store.open_file("release", name, file) as src, open(folder / file, "wb") as dst:
                shutil.copyfileobj(src, dst)
        report = validate(str(folder / "datapackage.json"))
        # frictionless reads Parquet through pandas, where a null in an integer column
        # becomes NaN: those cells are nulls (the CSV and JSON resources check them)
        errors = [
            (task.name, error.type, error.note)
            for task in report.tasks
            for error in task.errors
            if not (
                task.name.endswith("-parquet")
                and error.type == "type-error"
                and str(getattr(error, "cell", "")) == "nan"
            )
        ]
        assert not errors, (name, errors[:10])
        package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
        assert package["licenses"][0].get("path", "").startswith("http")


def test_release_description_is_dcat_ap(shapes) -> None:  # type: ignore[no-untyped-def]
    """A release version's dcat.jsonld, built as the release build does (no data needed)."""
    from rdflib import Graph, URIRef
    from rdflib.namespace import DCAT, DCTERMS

    from onesource.catalog.loader import load_catalog
    from onesource.release.publish import dcat

    catalog = load_catalog(REPO / "catalog").raise_for_issues()
    for release in catalog.releases.values():
        files = ("data.csv", "data.parquet", "data.json")
        doc = dcat(
            release,
            catalog,
            {f: "ab" * 32 for f in files},
            dict.fromkeys(files, 1234),
            3,
            "2026-11-29T12:00:00+00:00",
        )
        text = json.dumps(doc)
        _conforms(text, "json-ld", shapes)
        g = Graph().parse(data=text, format="json-ld")
        media = {str(m) for m in g.objects(None, DCAT.mediaType)}
        assert "https://www.iana.org/assignments/media-types/text/csv" in media
        licences = set(g.objects(None, DCTERMS.license))
        assert licences and all(isinstance(x, URIRef) for x in licences)
        assert len(list(g.objects(None, DCAT.accessURL))) == 3


def test_release_package_writer_validates(tmp_path: Path) -> None:
    """The package the release build writes, with its three data files, passes frictionless."""
    import pyarrow as pa
    from frictionless import validate

    from onesource.catalog.loader import load_catalog
    from onesource.release import publish as pub

    catalog = load_catalog(REPO / "catalog").raise_for_issues()
    release = catalog.releases["grid_events_open"]
    # a table of the release's columns: first the field types, then values that fit them
    probe = pa.table({name: pa.array(["x"]) for name in release.columns})
    blank = dict.fromkeys(pub.DATA_FILES, 0)
    fields = pub.datapackage(release, catalog, probe, {}, blank, blank, 1)["resources"][0]["schema"]
    values = {"integer": pa.array([1, None], pa.int64()), "number": pa.array([1.5, 2.0])}
    table = pa.table(
        {
            f["name"]: pa.array([f["constraints"]["enum"][0], f["constraints"]["enum"][-1]])
            if "enum" in f.get("constraints", {})
            else values.get(f["type"], pa.array(["=SUM(A1)", "乙"]))
            for f in fields["fields"]
        }
    )
    blobs = {
        "data.csv": pub.csv_bytes(table),
        "data.parquet": pub.parquet_bytes(table),
        "data.json": pub.json_bytes(table),
    }
    for name, data in blobs.items():
        (tmp_path / name).write_bytes(data)
    checks = {n: pub.sha256(b) for n, b in blobs.items()}
    sizes = {n: len(b) for n, b in blobs.items()}
    package = pub.datapackage(release, catalog, table, {}, checks, sizes, 1)
    (tmp_path / "datapackage.json").write_text(json.dumps(package, ensure_ascii=False))
    report = validate(str(tmp_path / "datapackage.json"))
    assert report.valid, report.flatten(["type", "note"])[:10]
