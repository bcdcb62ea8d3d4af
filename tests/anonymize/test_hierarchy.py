import datetime as dt

import pyarrow as pa
import pytest

from onesource.anonymize.encoding import encode_column
from onesource.anonymize.hierarchy import (
    AgeBands,
    CodeListHierarchy,
    DateHierarchy,
    Flat,
    HierarchyError,
    NumericBands,
    StringPrefix,
    TopBottomCoding,
    age_in_years,
    describe,
    top_bottom_code,
)


def test_numeric_bands_levels_and_labels():
    h = NumericBands((5, 10, 20), top=90)
    assert h.levels == 5
    assert describe(h, [3, 34, 35, 92, None]) == [
        ["3", "34", "35", "92", None],
        ["0-4", "30-34", "35-39", ">=90", None],
        ["0-9", "30-39", "30-39", ">=90", None],
        ["0-19", "20-39", "20-39", ">=90", None],
        ["*", "*", "*", "*", "*"],
    ]


def test_numeric_bands_floats_use_half_open_labels():
    assert NumericBands((2.5,)).apply(pa.array([3.3]), 1).to_pylist() == ["[2.5,5)"]


def test_string_prefix_padded_and_truncated():
    assert describe(StringPrefix((4, 2)), ["330102"]) == [["330102"], ["3301**"], ["33****"], ["*"]]
    assert describe(StringPrefix((4, 2), pad=False), ["330102"]) == [
        ["330102"],
        ["3301"],
        ["33"],
        ["*"],
    ]


def test_code_list_follows_parent_chains_and_stars_unknown():
    h = CodeListHierarchy({"a1": "a", "a2": "a", "a": "root", "b": "root"})
    assert h.levels == 4
    assert describe(h, ["a1", "b", "zz"]) == [
        ["a1", "b", "zz"],
        ["a", "root", "*"],
        ["root", "*", "*"],
        ["*", "*", "*"],
    ]


def test_code_list_cycle_refused():
    with pytest.raises(HierarchyError, match="cycle"):
        CodeListHierarchy({"a": "b", "b": "a"})


def test_dates_and_datetimes():
    assert describe(DateHierarchy(), [dt.date(2020, 3, 4)]) == [
        ["2020-03-04"],
        ["2020-03"],
        ["2020"],
        ["*"],
    ]
    h = DateHierarchy(with_time=True)
    assert h.apply(pa.array([dt.datetime(2020, 3, 4, 5, 6)]), 2).to_pylist() == ["2020-03"]
    assert h.apply(pa.array(["2021-12-31"]), 3).to_pylist() == ["2021"]
    assert h.apply(pa.array(["2021-12-31"]), 4).to_pylist() == ["*"]


@pytest.mark.parametrize(
    ("birth", "age"),
    [(dt.date(1990, 6, 30), 34), (dt.date(1990, 7, 1), 33), (dt.date(2000, 2, 29), 24)],
    ids=["birthday-today", "birthday-tomorrow", "leap-day"],
)
def test_age_in_years(birth, age):
    assert age_in_years(pa.array([birth]), dt.date(2024, 6, 30)).to_pylist() == [age]


def test_age_bands_from_birth_date():
    h = AgeBands(dt.date(2024, 6, 30))
    assert describe(h, [dt.date(1990, 7, 1)])[1:4] == [["33"], ["30-34"], ["30-39"]]


def test_top_bottom_coding():
    assert top_bottom_code(pa.array([10, 50, 95, None]), bottom=18, top=90).to_pylist() == [
        "<18",
        "50",
        ">=90",
        None,
    ]
    assert TopBottomCoding(top=90).levels == 3
    with pytest.raises(HierarchyError):
        TopBottomCoding()


def test_level_out_of_range():
    with pytest.raises(HierarchyError, match="valid levels are 0..1"):
        Flat().apply(pa.array([1]), 2)


def test_non_functional_hierarchy_refused():
    # 5-wide then 7-wide bands: 35-39 splits across 35-41 and 28-34
    with pytest.raises(HierarchyError, match="not a function"):
        encode_column("age", pa.array(list(range(100))), NumericBands((5, 7)))
