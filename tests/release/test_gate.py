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
