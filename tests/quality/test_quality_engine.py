"""The quality engine: each check kind catches its defect; thresholds; reports."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pyarrow as pa
import pytest

from onesource.catalog.loader import load_catalog
from onesource.quality import check_batch, compare_copies, render_html
from onesource.quality.domain import credit_code_valid, id_number_valid, mobile_valid
from onesource.quality.scorecard import compute
from schemas.arrow import resource_schema
from schemas.identifiers import (
    credit_check_char,
    id_check_char,
)
from schemas.identifiers import (
    credit_code_valid as credit_ref,
)
from schemas.identifiers import (
    id_number_valid as id_ref,
)

CATALOG = load_catalog("catalog").raise_for_issues()
NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


def valid_id(division: str = "339902", born: str = "19800101", seq: str = "123") -> str:
    first = division + born + seq
    return first + id_check_char(first)


def population(rows: list[dict]) -> pa.Table:
    res = CATALOG.resources["population_register"]
    schema = pa.schema([f.with_nullable(True) for f in resource_schema(CATALOG, res)])
    base = dict(
        name="王芳",
        sex="2",
        birth_date=dt.date(1980, 1, 1),
        household_division="339902",
        address="清源路1号",
        mobile="13912345678",
        household_number="H1",
        updated_at=dt.datetime(2026, 11, 21),
    )
    return pa.Table.from_pylist([{**base, **r} for r in rows], schema=schema)


def good_rows(n: int) -> list[dict]:
    return [{"id_number": valid_id(seq=f"{i:03d}")} for i in range(n)]


@pytest.mark.parametrize(
    "defect,check_id",
    [
        (
            {"id_number": valid_id()[:17] + ("0" if valid_id()[17] != "0" else "1")},
            "id_number:domain.id_number",
        ),
        ({"id_number": valid_id(born="19800231")}, "id_number:domain.id_number"),
        ({"id_number": valid_id(division="110105")}, "id_number:domain.id_number"),
        ({"name": None}, "name:not_null"),
        ({"sex": "7"}, "sex:in_set"),
        ({"household_division": "339999"}, "household_division:domain.division_code"),
        ({"mobile": "12345678901"}, "mobile:domain.mobile"),
        ({"birth_date": dt.date(1850, 1, 1)}, "birth_date:range.plausible_birth_date"),
        ({"name": "名" * 51}, "name:length"),
    ],
    ids=[
        "check-digit",
        "impossible-birth-date",
        "unknown-division-in-id",
        "required-null",
        "bad-code",
        "unknown-division",
        "bad-mobile",
        "out-of-range",
        "too-long",
    ],
)
def test_each_check_catches_its_defect(defect: dict, check_id: str) -> None:
    rows = good_rows(60)
    rows[7] = {**rows[7], **defect}
    out = check_batch(CATALOG, CATALOG.resources["population_register"], population(rows), now=NOW)
    failed = {c.id: c.failed for c in out.report.checks if c.failed}
    assert failed.get(check_id) == 1, failed
    assert out.quarantine.num_rows == 1
    assert check_id in out.quarantine["_reasons"][0].as_py()
    assert out.good.num_rows == 59
    assert not out.rejected


def test_duplicate_key_keeps_first_and_quarantines_repeat() -> None:
    rows = good_rows(40) + [good_rows(1)[0]]
    out = check_batch(CATALOG, CATALOG.resources["population_register"], population(rows), now=NOW)
    assert out.quarantine["_row"].to_pylist() == [40]
    assert "id_number:primary_key" in out.quarantine["_reasons"][0].as_py()


def test_threshold_rejects_whole_batch() -> None:
    rows = good_rows(20)
    for i in range(5):  # 25% > 5%
        rows[i]["sex"] = "7"
    out = check_batch(CATALOG, CATALOG.resources["population_register"], population(rows), now=NOW)
    assert out.rejected
    assert "25.0%" in out.report.rejection_reason


def test_warning_rules_report_without_quarantine() -> None:
    res = CATALOG.resources["employment_records"]
    schema = pa.schema([f.with_nullable(True) for f in resource_schema(CATALOG, res)])
    from schemas.identifiers import credit_check_char as c

    cc = "91339900MA0000001" + c("91339900MA0000001")
    row = dict(
        id_number=valid_id(),
        name="张伟",
        employer_credit_code=cc,
        employer_name="清河科技",
        occupation="2",
        monthly_wage=2_000_000,
        started_on=dt.date(2020, 1, 1),
        updated_at=dt.datetime(2026, 11, 1),
    )
    table = pa.Table.from_pylist([row], schema=schema)
    out = check_batch(CATALOG, res, table, now=NOW)
    wage = next(c for c in out.report.checks if c.id.startswith("monthly_wage:range"))
    assert wage.failed == 1 and wage.severity == "warning"
    assert out.quarantine.num_rows == 0 and out.good.num_rows == 1


def test_row_count_change_and_freshness() -> None:
    res = CATALOG.resources["population_register"]
    table = population(good_rows(10))
    out = check_batch(CATALOG, res, table, previous_rows=100, now=NOW)
    assert out.rejected and "in the previous version" in (out.report.rejection_reason or "")
    assert any(b.id == "row_count_change" and not b.passed for b in out.report.batch_checks)
    stale = check_batch(CATALOG, res, table, now=NOW + dt.timedelta(days=30))
    fresh = next(b for b in stale.report.batch_checks if b.id == "freshness")
    assert not fresh.passed and not stale.rejected  # freshness warns, it does not reject


def test_consistency_names_the_departments() -> None:
    people = population(good_rows(30))
    students_res = CATALOG.resources["students"]
    schema = pa.schema([f.with_nullable(True) for f in resource_schema(CATALOG, students_res)])
    rows = []
    for i, p in enumerate(people.to_pylist()):
        rows.append(
            dict(
                student_number=f"G{p['id_number']}",
                id_number=p["id_number"],
                name=p["name"],
                sex=p["sex"],
                school="清河一中",
                grade=3,
                enrolled_on=dt.date(2024, 9, 1),
                household_division="339905" if i < 4 else p["household_division"],
            )
        )
    students = pa.Table.from_pylist(rows, schema=schema)
    rep = compare_copies(
        CATALOG,
        students_res,
        students,
        lambda name: people if name == "population_register" else None,
    )
    div = next(e for e in rep.elements if e.element == "person.household_division")
    assert (div.compared, div.disagreements) == (30, 4)
    assert div.copy_department == "edu" and div.source_department == "psb"
    # both disagreeing values are reported, not only the key
    first = people.to_pylist()[0]
    assert {"key": first["id_number"], "copy": "339905", "source": first["household_division"]} in (
        div.samples
    )
    assert rep.agreement is not None and rep.agreement < 1


def test_html_report_shows_counts() -> None:
    rows = good_rows(30)
    rows[3]["sex"] = "7"
    out = check_batch(CATALOG, CATALOG.resources["population_register"], population(rows), now=NOW)
    html = render_html(out.report)
    assert "sex:in_set" in html and "本批次通过" in html and "29" in html


def test_scorecard_means_last_run_per_resource_per_day() -> None:
    entries = [
        {
            "department": "psb",
            "resource": "a",
            "day": "2026-11-22",
            "at": "1",
            "scores": {"validity": 0.5},
        },
        {
            "department": "psb",
            "resource": "a",
            "day": "2026-11-22",
            "at": "2",
            "scores": {"validity": 0.9},
        },
        {
            "department": "psb",
            "resource": "b",
            "day": "2026-11-22",
            "at": "3",
            "scores": {"validity": 0.7},
        },
    ]
    card = compute(entries)
    assert len(card.rows) == 1 and card.rows[0].scores["validity"] == pytest.approx(0.8)


def test_vectorized_validators_agree_with_references() -> None:
    rnd = random.Random(7)
    ids, codes = [], []
    for _ in range(3000):
        first = f"3399{rnd.randint(0, 99):02d}{rnd.randint(1900, 2020)}{rnd.randint(1, 12):02d}{rnd.randint(1, 31):02d}{rnd.randint(0, 999):03d}"
        ids.append(
            first + (id_check_char(first) if rnd.random() < 0.5 else rnd.choice("0123456789X"))
        )
        body = (
            "".join(rnd.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(2))
            + f"{rnd.randint(0, 999999):06d}"
            + "".join(rnd.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
        )
        codes.append(
            body
            + (
                credit_check_char(body)
                if rnd.random() < 0.5
                else rnd.choice("0123456789ABCDEFGHJKLMNPQRTUWXY")
            )
        )
    ids += ["", "X" * 18, "11010519491231002x", "身份证号码一二三四五六七八九十"]
    got = id_number_valid(pa.array(ids), max_year=2026)
    want = np.array([id_ref(v.upper()) for v in ids])
    assert (got == want).all()
    assert (credit_code_valid(pa.array(codes)) == np.array([credit_ref(c) for c in codes])).all()
    assert mobile_valid(pa.array(["13800000000", "1380000000", "23800000000"])).tolist() == [
        True,
        False,
        False,
    ]


@pytest.mark.slow
def test_gx_engine_matches_arrow_engine() -> None:
    rows = good_rows(80)
    rows[1]["sex"] = "7"
    rows[2]["name"] = None
    rows[3]["id_number"] = valid_id(born="19800231")
    rows[4] = dict(rows[5])  # duplicate key
    rows[6]["household_division"] = "339999"
    rows[8]["birth_date"] = dt.date(1850, 1, 1)
    table = population(rows)
    res = CATALOG.resources["population_register"]
    arrow = check_batch(CATALOG, res, table, now=NOW)
    gx = check_batch(CATALOG, res, table, now=NOW, engine="gx")
    assert [(c.id, c.failed, c.sample_keys) for c in arrow.report.checks] == [
        (c.id, c.failed, c.sample_keys) for c in gx.report.checks
    ]
    assert arrow.quarantine["_row"].to_pylist() == gx.quarantine["_row"].to_pylist()
    assert arrow.report.rows_quarantined == 6
