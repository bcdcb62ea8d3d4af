"""The leak gate as the release build runs it: inputs' direct columns, published files."""

from __future__ import annotations

import pyarrow as pa
import pytest

from onesource.catalog.loader import load_catalog
from onesource.release.gate import direct_values, leak_gate
from onesource.release.publish import data_files
from onesource.release.spec import ReleaseRefused, Source

CATALOG = load_catalog("catalog").raise_for_issues()


def _unlisted_rep_release():
    """business_register_open without its legal representative columns at all."""
    rel = CATALOG.releases["business_register_open"].model_copy(deep=True)
    rel.columns.pop("legal_rep_name")
    rel.columns.pop("legal_rep_id_number")
    return rel


def _read(resource: str, columns: list[str]) -> pa.Table:
    assert resource == "business_register"
    data = {
        "legal_rep_name": ["欧阳娜娜", "王伟"],
        "legal_rep_id_number": ["11010519491231002X", None],
    }
    return pa.table({c: data[c] for c in columns})


def _sources(rel, out: pa.Table) -> dict[str, Source]:
    res = CATALOG.resources["business_register"]
    return {
        n: Source(
            out[n],
            CATALOG.field_pii(res.fields[c.source.split(".")[1]]),
            res.fields[c.source.split(".")[1]].element,
        )
        for n, c in rel.columns.items()
        if n in out.column_names
    }


def test_direct_columns_the_release_does_not_list_are_gathered() -> None:
    rel = _unlisted_rep_release()
    got = direct_values(rel, CATALOG, _read)
    assert set(got) == {"business_register.legal_rep_name", "business_register.legal_rep_id_number"}


def test_name_of_an_unlisted_direct_column_inside_text_is_refused() -> None:
    rel = _unlisted_rep_release()
    out = pa.table({"name": ["清河00001科技有限公司", "欧阳娜娜个体经营部"], "status": ["1", "1"]})
    with pytest.raises(ReleaseRefused, match="name: 1 x direct-value.*legal_rep_name"):
        leak_gate(rel, CATALOG, out, _sources(rel, out), _read)


def test_clean_release_returns_the_files_it_scanned() -> None:
    rel = _unlisted_rep_release()
    out = pa.table({"name": ["清河00001科技有限公司"], "status": ["1"]})
    files = leak_gate(rel, CATALOG, out, _sources(rel, out), _read)
    assert files == data_files(out)


def test_float_written_by_the_csv_and_json_writers_is_scanned() -> None:
    from onesource.anonymize.leakgate import scan_files

    files = data_files(pa.table({"x": pa.array([13812345678.0, 2.5])}))
    assert b"1.3812345678e+10" in files["data.csv"]
    found = scan_files(files, classification={"x": "none"})
    assert {(f.column, f.kind) for f in found} >= {
        ("data.csv: x", "mobile"),
        ("data.json: x", "mobile"),
        ("data.parquet: x", "mobile"),
    }


def test_pseudonym_column_is_not_pattern_scanned_in_files() -> None:
    from onesource.anonymize.leakgate import scan_files

    files = data_files(pa.table({"p": ["0123456789abcdef13812345678abcde"[:32]]}))
    assert scan_files(files, classification={"p": "pseudonym"}) == []


def test_verify_rescans_published_files_with_todays_gate() -> None:
    """A version published by an older, weaker gate is caught by release verify."""
    from onesource.release.gate import rescan

    rel = _unlisted_rep_release()
    leaky = pa.table(
        {
            "name": ["清河00001科技有限公司", "王伟 138-1234-5678"],
            "status": ["1", "1"],
            "registered_capital": pa.array([3.3010219660601075e17, 1.0]),
        }
    )
    found = {(f.column, f.kind) for f in rescan(rel, CATALOG, data_files(leaky), _read)}
    assert ("data.csv: name", "mobile") in found
    assert ("data.csv: name", "direct-value") in found
    assert ("data.csv: registered_capital", "id-number") in found
    clean = pa.table({"credit_code": ["91350100M000100Y43"], "status": ["1"]})
    assert rescan(rel, CATALOG, data_files(clean), _read) == []  # credit codes expected here


def test_data_dictionary_says_how_csv_cells_are_neutralized() -> None:
    from onesource.release.publish import datapackage

    rel = CATALOG.releases["grid_events_open"]
    out = pa.table({"event_number": ["=1"]})
    files = data_files(out)
    pkg = datapackage(
        rel, CATALOG, out, {}, {f: "0" for f in files}, {f: len(b) for f, b in files.items()}, 1
    )
    csv_res = next(r for r in pkg["resources"] if r["path"] == "data.csv")
    assert "single quote" in csv_res["x-formula-neutralization"]
    assert "numeric columns are not changed" in csv_res["x-formula-neutralization"]


def test_files_that_differ_from_the_scanned_table_are_scanned() -> None:
    from onesource.anonymize.leakgate import scan_files

    clean = pa.table({"x": ["a", "b"]})
    leaky = data_files(pa.table({"x": ["a", "电话13812345678"]}))
    found = {
        (f.column, f.kind) for f in scan_files(leaky, classification={"x": "none"}, table=clean)
    }
    assert {("data.csv: x", "mobile"), ("data.parquet: x", "mobile")} <= found
    dated = pa.table({"d": pa.array([1, 2], pa.date32())})
    assert scan_files(data_files(dated), classification={"d": "none"}, table=dated) == []
