import numpy as np
import pyarrow as pa
import pytest
from pycanon import anonymity

from onesource.anonymize import AnonymizationSpec, AnonymizationSpecError, ColumnRule, anonymize
from onesource.anonymize.hierarchy import NumericBands, StringPrefix
from onesource.anonymize.leakgate import scan

KEY = b"r" * 32


def people(n: int = 3000) -> pa.Table:
    rng = np.random.default_rng(11)
    ids = [f"3301{i:014d}" for i in range(n)]
    return pa.table(
        {
            "name": rng.choice(["王伟", "李娜", "张敏"], n),
            "id_number": ids,
            "phone": [f"138{i:08d}" for i in range(n)],
            "age": rng.integers(0, 100, n),
            "sex": rng.choice(["1", "2"], n),
            "division": rng.choice(["330102", "330103", "330201", "330202", "330301"], n),
            "income": rng.integers(1, 200, n) * 100,
            "diagnosis": rng.choice(list("ABCDE"), n),
        }
    )


def spec(**overrides) -> AnonymizationSpec:
    cols = {
        "name": ColumnRule("drop", "direct"),
        "id_number": ColumnRule("pseudonymize", "direct"),
        "phone": ColumnRule("drop", "direct"),
        "age": ColumnRule("generalize", "quasi", NumericBands((5, 10, 20), top=90)),
        "sex": ColumnRule("keep", "quasi"),
        "division": ColumnRule("generalize", "quasi", StringPrefix((4, 2))),
        "income": ColumnRule("top_bottom_code", "sensitive", top=15000),
        "diagnosis": ColumnRule("keep", "sensitive"),
    }
    cols.update(overrides.pop("columns", {}))
    return AnonymizationSpec(columns=cols, **{"k": 5, "suppression_limit": 0.02, **overrides})


def test_whole_spec_end_to_end_passes_leak_gate():
    t = people()
    out, report = anonymize(t, spec(l_div=3), key=KEY)
    assert out.column_names == ["id_number", "age", "sex", "division", "income", "diagnosis"]
    assert report["k_reached"] >= 5 and report["l_reached"]["diagnosis"] >= 3
    qis = ["age", "sex", "division"]
    assert anonymity.k_anonymity(out.to_pandas(), qis) == report["k_reached"]
    assert report["records"] + report["records_suppressed"] == t.num_rows
    assert report["techniques"]["id_number"]["code"] == "pseudonymize"
    classes = {"id_number": "pseudonym", "age": "quasi", "sex": "quasi", "division": "quasi"}
    classes |= {"income": "sensitive", "diagnosis": "sensitive"}
    direct = {c: t.column(c) for c in ("name", "id_number", "phone")}
    assert scan(out, classification=classes, direct_values=direct) == []
    assert ">=15000" in set(out.column("income").to_pylist())


def test_fixed_level_without_k():
    rules = {"age": ColumnRule("generalize", "quasi", NumericBands((5, 10, 20)), level=2)}
    out, report = anonymize(people(200), spec(k=None, columns=rules), key=KEY)
    assert set(out.column("age").to_pylist()) <= {f"{a}-{a + 9}" for a in range(0, 100, 10)}
    assert report["generalization_levels"]["age"] == {"level": 2, "label": "10-wide bands"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"columns": {"name": ColumnRule("keep", "direct")}},
            "direct identifier with technique 'keep'",
        ),
        (
            {"columns": {"phone": ColumnRule("mask", "direct", mask_kind="phone")}},
            "not a list notice",
        ),
        ({"columns": {"ghost": ColumnRule("keep", "none")}}, "not in the table"),
    ],
    ids=["keep-direct", "mask-outside-notice", "rule-for-missing-column"],
)
def test_refused_specs(overrides, message):
    with pytest.raises(AnonymizationSpecError, match=message):
        anonymize(people(50), spec(**overrides), key=KEY)


def test_unclassified_column_refused():
    t = people(50).append_column("remark", pa.array(["x"] * 50))
    with pytest.raises(AnonymizationSpecError, match="'remark' has no rule"):
        anonymize(t, spec(), key=KEY)


def test_pseudonymize_without_key_refused():
    with pytest.raises(AnonymizationSpecError, match="no key"):
        anonymize(people(50), spec())


def test_list_notice_masks():
    rules = {
        "name": ColumnRule("mask", "direct", mask_kind="name"),
        "phone": ColumnRule("mask", "direct", mask_kind="phone"),
    }
    out, _ = anonymize(people(20), spec(k=None, list_notice=True, columns=rules), key=KEY)
    assert all(v.endswith("*") for v in out.column("name").to_pylist())
    assert "138****0000" in out.column("phone").to_pylist()


def test_declared_quasi_identifiers_are_enforced_whatever_their_pii_class():
    """`diagnosis` (pii sensitive) declared a quasi-identifier takes part in k."""
    t = people()
    qis = ("age", "sex", "division", "diagnosis")
    out, report = anonymize(t, spec(quasi_identifiers=qis, sensitive=()), key=KEY)
    assert report["quasi_identifiers"] == list(qis)
    assert anonymity.k_anonymity(out.to_pandas(), list(qis)) == report["k_reached"] >= 5


def test_declared_quasi_identifier_that_is_dropped_is_refused():
    with pytest.raises(AnonymizationSpecError, match="quasi-identifier 'phone' has technique"):
        anonymize(people(50), spec(quasi_identifiers=("age", "phone")), key=KEY)


def test_l_only_on_declared_sensitive_columns():
    # income top-coded at 1 has one value: l=2 on it is impossible, on diagnosis it is not
    rules = {"income": ColumnRule("top_bottom_code", "sensitive", top=1)}
    out, report = anonymize(
        people(), spec(columns=rules, l_div=2, sensitive=("diagnosis",)), key=KEY
    )
    assert report["sensitive_attributes"] == ["diagnosis"]
    assert anonymity.l_diversity(out.to_pandas(), ["age", "sex", "division"], ["diagnosis"]) >= 2
