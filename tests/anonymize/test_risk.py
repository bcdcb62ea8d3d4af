import pyarrow as pa
import pytest

from onesource.anonymize.risk import TECHNIQUES, risk_report, technique_label


def test_risk_figures_on_a_small_table():
    t = pa.table(
        {
            "age": ["30-34"] * 3 + ["35-39"] * 2 + ["40-44"],
            "sex": ["1"] * 6,
            "dx": ["a", "b", "b", "a", "a", None],
        }
    )
    r = risk_report(t, quasi_identifiers=["age", "sex"], sensitive=["dx"], k=2, suppressed=4)
    assert r["k_reached"] == 1
    assert r["equivalence_classes"] == 3
    assert r["sample_uniques"] == 1
    assert r["records_in_classes_below_k"] == 1
    assert r["share_below_k"] == pytest.approx(1 / 6)
    assert r["max_prosecutor_risk"] == 1.0
    assert r["avg_prosecutor_risk"] == pytest.approx(3 / 6)
    assert r["input_records"] == 10
    assert r["l_reached"] == {"dx": 0}


def test_every_technique_code_has_bilingual_label():
    for code in [
        "drop",
        "pseudonymize",
        "mask",
        "generalize",
        "top_bottom_code",
        "keep",
        "aggregate",
    ]:
        zh, en = technique_label(code).split(" / ")
        assert zh and en
    assert TECHNIQUES["pseudonymize"].startswith("假名化")
    with pytest.raises(KeyError, match="known"):
        technique_label("encrypt")


def test_empty_table():
    r = risk_report(pa.table({"a": pa.array([], pa.string())}), quasi_identifiers=["a"], k=5)
    assert r["k_reached"] is None and r["avg_prosecutor_risk"] == 0.0


def test_without_quasi_identifiers_k_is_not_applicable():
    """A table without quasi-identifiers has no classes: k is not the row count."""
    t = pa.table({"dx": ["a", "b", "c"]})
    r = risk_report(t, quasi_identifiers=[], sensitive=["dx"], k=5)
    assert r["k_reached"] == "not applicable"
    assert r["max_prosecutor_risk"] == "not applicable"
    assert r["sample_uniques"] == "not applicable"
    assert "k_anonymity" not in r["models"]


def test_levels_are_named_by_their_labels():
    import datetime as dt

    from onesource.anonymize.hierarchy import AgeBands, DateHierarchy, NumericBands, level_label

    t = pa.table({"age": ["30-34"] * 5})
    r = risk_report(
        t,
        quasi_identifiers=["age"],
        k=5,
        levels={"age": 2},
        level_labels={"age": level_label(AgeBands(dt.date(2024, 1, 1), NumericBands((5, 10))), 2)},
    )
    assert r["generalization_levels"] == {"age": {"level": 2, "label": "5-year age bands"}}
    assert level_label(DateHierarchy(), 1) == "month"
    assert level_label(DateHierarchy(), 3) == "* (fully generalized)"
