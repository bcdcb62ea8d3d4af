"""Published CSV cannot run formulas in a spreadsheet (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io

import pyarrow as pa
import pytest

from onesource.release.publish import csv_bytes, data_files

ATTACKS = ['=HYPERLINK("http://x","y")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\r=1"]


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize("cell", ATTACKS, ids=["equals", "plus", "minus", "at", "tab", "cr"])
def test_formula_cells_in_text_columns_are_quoted(cell: str) -> None:
    table = pa.table({"note": [cell, "ok"]})
    rows = _rows(csv_bytes(table))
    assert rows[1] == ["'" + cell]
    assert rows[2] == ["ok"]


def test_dictionary_and_large_text_columns_too() -> None:
    table = pa.table(
        {
            "d": pa.array(["=1", "a"]).dictionary_encode(),
            "l": pa.array(["@x", "b"], pa.large_string()),
        }
    )
    rows = _rows(csv_bytes(table))
    assert rows[1] == ["'=1", "'@x"]


def test_numbers_stay_numbers() -> None:
    table = pa.table({"amount": pa.array([-5.5, 3.0]), "n": pa.array([-2, 7]), "t": ["-x", "y"]})
    rows = _rows(csv_bytes(table))
    assert rows[1] == ["-5.5", "-2", "'-x"]


def test_only_csv_is_quoted_and_the_dictionary_says_so() -> None:
    import json

    files = data_files(pa.table({"note": ["=1"]}))
    assert json.loads(files["data.json"]) == [{"note": "=1"}]
    assert _rows(files["data.csv"])[1] == ["'=1"]
