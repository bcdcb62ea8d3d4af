"""Every demo department's dataset, derived from the residents, with planted defects.

Each builder returns an Arrow table whose columns are the resource's fields,
and records the defects it planted (exact counts) in ``defects``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onesource.demo.people import (
    DISTRICTS,
    STREETS,
    credit_codes,
    fixed_chars,
    fixed_strings,
    mobiles,
    names,
)

NOW = np.datetime64("2026-11-21T09:00:00", "s")
Defects = dict[str, dict[str, Any]]


def _ts(rng: np.random.Generator, n: int, days: int) -> pa.Array:
    secs = rng.integers(0, days * 86400, n)
    return pa.array((NOW - secs.astype("timedelta64[s]")).astype("datetime64[s]"))


def _pick(
    rng: np.random.Generator, values: list[str], n: int, p: list[float] | None = None
) -> np.ndarray:
    return np.array(values)[rng.choice(len(values), n, p=p)]


def _serial(prefix: str, n: int, width: int) -> pa.Array:
    """prefix + 0-based row number zero-padded to ``width`` digits."""
    digits = pc.utf8_lpad(pa.array(np.arange(n)).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def _plant_bad_ids(
    rng: np.random.Generator, ids: pa.ChunkedArray, share: float
) -> tuple[pa.Array, np.ndarray]:
    """The IDs with a wrong check character (break_check_digit's rule) in ~``share`` of them."""
    bad = np.flatnonzero(rng.random(len(ids)) < share)
    raw = fixed_chars(ids, 18)
    raw[bad, 17] = np.where(raw[bad, 17] == ord("0"), ord("1"), ord("0"))
    return fixed_strings(raw), bad


def population(rng: np.random.Generator, people: pa.Table, defects: Defects) -> pa.Table:
    """psb's register: ~1% bad check digits, a few exact duplicate rows."""
    ids, bad = _plant_bad_ids(rng, people["id_number"], 0.01)
    table = people.set_column(0, "id_number", ids).append_column(
        "updated_at", _ts(rng, people.num_rows, 20)
    )
    good = np.ones(table.num_rows, dtype=bool)
    good[bad] = False
    dup = rng.choice(np.flatnonzero(good), max(1, table.num_rows // 1000), replace=False)
    table = pa.concat_tables([table, table.take(pa.array(dup))])
    defects["population_register"] = {
        "bad_id_check_digit": int(len(bad)),
        "duplicate_rows": int(len(dup)),
    }
    return table


def households(people: pa.Table, defects: Defects) -> pa.Table:
    grouped = people.group_by("household_number").aggregate(
        [("id_number", "min"), ("household_division", "min"), ("id_number", "count")]
    )
    return pa.table(
        {
            "household_number": grouped["household_number"],
            "division": grouped["household_division_min"],
            "size": grouped["id_number_count"],
            "head_id_number": grouped["id_number_min"],
        }
    )


def marriages(rng: np.random.Generator, people: pa.Table, defects: Defects) -> pa.Table:
    adults = np.flatnonzero(
        pc.less(people["birth_date"], pa.scalar(dt.date(2004, 1, 1))).to_numpy(zero_copy_only=False)
    )
    n = max(10, people.num_rows // 20)
    who = rng.choice(adults, n, replace=False)
    kind = _pick(rng, ["marriage", "divorce", "reissue"], n, [0.75, 0.2, 0.05])
    status = np.where(kind == "divorce", "40", "20")
    sub = people.take(pa.array(who))
    return pa.table(
        {
            "registration_number": _serial("J339900-2", n, 8),
            "kind": pa.array(kind),
            "registered_on": pa.array(
                (NOW.astype("datetime64[D]") - rng.integers(0, 3650, n)).astype("datetime64[D]")
            ),
            "id_number": sub["id_number"],
            "name": sub["name"],
            "marital_status": pa.array(status),
        }
    )


def students(rng: np.random.Generator, people: pa.Table, defects: Defects) -> pa.Table:
    """edu's register: the household division copy disagrees with psb for ~2%."""
    born = people["birth_date"]
    young = np.flatnonzero(
        pc.and_(
            pc.greater(born, pa.scalar(dt.date(2008, 9, 1))),
            pc.less(born, pa.scalar(dt.date(2020, 9, 1))),
        ).to_numpy(zero_copy_only=False)
    )
    sub = people.take(pa.array(young))
    n = sub.num_rows
    years = np.asarray(pc.year(sub["birth_date"]).to_numpy(zero_copy_only=False))
    grade = np.clip(2026 - years - 6, 1, 12)
    division = np.asarray(sub["household_division"].to_numpy(zero_copy_only=False)).copy()
    moved = np.flatnonzero(rng.random(n) < 0.02)
    division[moved] = np.where(division[moved] == "339902", "339903", "339902")
    schools = [f"清河市第{i}中学" for i in range(1, 13)] + [
        f"清河市实验小学{c}校区" for c in "东西南北"
    ]
    defects["students"] = {
        "household_division_disagrees_with_psb": int(len(moved)),
        "malformed_csv_rows": 1,
    }
    return pa.table(
        {
            "student_number": pa.array(
                np.char.add(
                    "G", np.asarray(sub["id_number"].to_numpy(zero_copy_only=False)).astype(str)
                )
            ),
            "id_number": sub["id_number"],
            "name": sub["name"],
            "sex": sub["sex"],
            "school": pa.array(_pick(rng, schools, n)),
            "grade": pa.array(grade.astype(np.int64)),
            "enrolled_on": pa.array(
                (years + 6 + (grade - 1) * 0).astype(str).astype(object) + "-09-01"
            ),
            "household_division": pa.array(division),
        }
    )


def graduates(rng: np.random.Generator, people: pa.Table) -> pa.Table:
    adults = np.flatnonzero(
        pc.less(people["birth_date"], pa.scalar(dt.date(2003, 1, 1))).to_numpy(zero_copy_only=False)
    )
    sub = people.take(pa.array(adults))
    n = sub.num_rows
    level = _pick(
        rng,
        ["10", "20", "30", "40", "60", "70", "80", "90"],
        n,
        [0.04, 0.2, 0.18, 0.1, 0.2, 0.18, 0.08, 0.02],
    )
    years = np.asarray(pc.year(sub["birth_date"]).to_numpy(zero_copy_only=False)) + 22
    return pa.table(
        {
            "id_number": sub["id_number"],
            "education_level": pa.array(level),
            "graduated_on": pa.array(
                ((years - 1970).astype("datetime64[Y]").astype("datetime64[M]") + 6).astype(
                    "datetime64[D]"
                )
            ),
        }
    )


def businesses(rng: np.random.Generator, people: pa.Table, defects: Defects) -> pa.Table:
    n = max(20, people.num_rows // 10)
    division = DISTRICTS[rng.integers(0, len(DISTRICTS), n)]
    codes = credit_codes(division, np.arange(n) + 1).astype(str)
    bad = rng.choice(n, max(1, n // 500), replace=False)
    raw = codes.astype("S18").view(np.uint8).reshape(n, 18).copy()
    raw[bad, 17] = np.where(raw[bad, 17] == ord("0"), ord("1"), ord("0"))
    codes = raw.view("S18").ravel().astype(str)
    reps = people.take(pa.array(rng.integers(0, people.num_rows, n)))
    prefix = _pick(rng, ["清河", "清源", "河东", "新港", "临江", "白河"], n)
    trade = _pick(rng, ["科技", "商贸", "建设", "餐饮", "物业", "医药", "物流", "文化"], n)
    defects["business_register"] = {"bad_credit_code": int(len(bad))}
    return pa.table(
        {
            "credit_code": pa.array(codes),
            "name": pa.array(
                np.char.add(
                    np.char.add(
                        np.char.add(prefix, np.char.zfill(np.arange(n).astype(str), 5)), trade
                    ),
                    "有限公司",
                )
            ),
            "type": pa.array(
                _pick(rng, ["1", "2", "3", "4", "5", "6"], n, [0.55, 0.05, 0.1, 0.05, 0.22, 0.03])
            ),
            "legal_rep_name": reps["name"],
            "legal_rep_id_number": reps["id_number"],
            "registered_capital": pa.array(np.round(rng.lognormal(4, 1.2, n), 2)),
            "established_on": pa.array(
                (NOW.astype("datetime64[D]") - rng.integers(30, 9000, n)).astype("datetime64[D]")
            ),
            "industry": pa.array(
                _pick(rng, ["A", "C", "E", "F", "G", "H", "I", "K", "L", "M", "O", "Q"], n)
            ),
            "division": pa.array(division.astype(str)),
            "status": pa.array(_pick(rng, ["1", "2", "3", "4"], n, [0.85, 0.05, 0.08, 0.02])),
            "updated_at": _ts(rng, n, 10),
        }
    )


def employment(
    rng: np.random.Generator, people: pa.Table, firms: pa.Table, defects: Defects
) -> pa.Table:
    """hrss: ~1% of employer names disagree with the business register."""
    born = people["birth_date"]
    working = np.flatnonzero(
        pc.and_(
            pc.greater(born, pa.scalar(dt.date(1966, 1, 1))),
            pc.less(born, pa.scalar(dt.date(2006, 1, 1))),
        ).to_numpy(zero_copy_only=False)
    )
    who = rng.choice(working, int(len(working) * 0.6), replace=False)
    n = len(who)
    good_firms = np.flatnonzero(pc.equal(firms["status"], "1").to_numpy(zero_copy_only=False))
    firm = rng.choice(good_firms, n)
    sub, emp = people.take(pa.array(who)), firms.take(pa.array(firm))
    employer = np.asarray(emp["name"].to_numpy(zero_copy_only=False)).astype(object)
    stale = np.flatnonzero(rng.random(n) < 0.01)
    employer[stale] = [name.replace("有限公司", "有限责任公司") for name in employer[stale]]
    defects["employment_records"] = {"employer_name_disagrees_with_amr": int(len(stale))}
    return pa.table(
        {
            "id_number": sub["id_number"],
            "name": sub["name"],
            "employer_credit_code": emp["credit_code"],
            "employer_name": pa.array(employer.astype(str)),
            "occupation": pa.array(
                _pick(
                    rng,
                    ["1", "2", "3", "4", "5", "6", "8"],
                    n,
                    [0.05, 0.25, 0.15, 0.3, 0.05, 0.18, 0.02],
                )
            ),
            "monthly_wage": pa.array(np.round(rng.lognormal(8.8, 0.45, n), 2)),
            "started_on": pa.array(
                (NOW.astype("datetime64[D]") - rng.integers(10, 7000, n)).astype("datetime64[D]")
            ),
            "updated_at": _ts(rng, n, 30),
        }
    )


def insurance(rng: np.random.Generator, jobs: pa.Table) -> pa.Table:
    n = jobs.num_rows
    base = np.round(np.asarray(jobs["monthly_wage"].to_numpy(zero_copy_only=False)) * 0.9, 2)
    parts = []
    for kind in ("pension", "medical"):
        parts.append(
            pa.table(
                {
                    "id_number": jobs["id_number"],
                    "insurance_type": pa.array(np.full(n, kind)),
                    "contribution_base": pa.array(base),
                    "paid_months": pa.array(rng.integers(1, 400, n)),
                }
            )
        )
    return pa.concat_tables(parts)


def assistance(rng: np.random.Generator, people: pa.Table) -> pa.Table:
    n = max(10, people.num_rows // 50)
    sub = people.take(pa.array(rng.choice(people.num_rows, n, replace=False)))
    kind = _pick(rng, ["dibao", "tekun", "linshi"], n, [0.7, 0.1, 0.2])
    situation = _pick(
        rng,
        [
            "家庭成员患重病，无固定收入",
            "独居老人，无劳动能力",
            "因灾致贫，住房受损",
            "单亲家庭，子女就学",
        ],
        n,
    )
    return pa.table(
        {
            "id_number": sub["id_number"],
            "name": sub["name"],
            "assistance_type": pa.array(kind),
            "monthly_amount": pa.array(np.round(rng.uniform(300, 1500, n), 2)),
            "household_division": sub["household_division"],
            "family_situation": pa.array(situation),
        }
    )


def properties(
    rng: np.random.Generator, people: pa.Table, firms: pa.Table, defects: Defects
) -> pa.Table:
    """housing: ~1% of owner names disagree with psb's."""
    n = max(20, people.num_rows // 3)
    owners = people.take(pa.array(rng.integers(0, people.num_rows, n)))
    stale = rng.random(n) < 0.01
    owner_name = pc.replace_with_mask(
        owners["name"].combine_chunks(), pa.array(stale), pa.array(names(rng, int(stale.sum())))
    )
    division = DISTRICTS[rng.integers(0, len(DISTRICTS), n)]
    use = _pick(
        rng,
        ["residential", "commercial", "office", "industrial", "other"],
        n,
        [0.82, 0.08, 0.05, 0.03, 0.02],
    )
    area = np.where(use == "residential", rng.normal(95, 30, n), rng.lognormal(5, 0.8, n)).clip(
        12, 4800
    )
    managers = firms.take(pa.array(rng.integers(0, firms.num_rows, n)))["credit_code"]
    defects["properties"] = {"owner_name_disagrees_with_psb": int(stale.sum())}
    divisions = pa.array(division.astype(str))
    return pa.table(
        {
            "property_number": pc.binary_join_element_wise(
                divisions, pc.utf8_lpad(pa.array(np.arange(n)).cast(pa.string()), 22, "0"), ""
            ),
            "division": divisions,
            "address": pa.array(
                np.char.add(
                    np.char.add(_pick(rng, STREETS, n), rng.integers(1, 999, n).astype(str)), "号"
                )
            ),
            "floor_area": pa.array(np.round(area, 2)),
            "use": pa.array(use),
            "registered_on": pa.array(
                (NOW.astype("datetime64[D]") - rng.integers(1, 9000, n)).astype("datetime64[D]")
            ),
            "owner_id_number": owners["id_number"],
            "owner_name": owner_name,
            "manager_credit_code": managers,
        }
    )


def appointments(rng: np.random.Generator, people: pa.Table, defects: Defects) -> pa.Table:
    """health: a few sex copies disagree with psb."""
    n = max(20, people.num_rows // 2)
    sub = people.take(pa.array(rng.integers(0, people.num_rows, n)))
    sex = np.asarray(sub["sex"].to_numpy(zero_copy_only=False)).copy()
    wrong = np.flatnonzero(rng.random(n) < 0.005)
    sex[wrong] = np.where(sex[wrong] == "1", "2", "1")
    defects["appointments"] = {"sex_disagrees_with_psb": int(len(wrong))}
    hospitals = [
        "清河市第一人民医院",
        "清河市中医院",
        "清河市妇幼保健院",
        "河东区人民医院",
        "临江市人民医院",
    ]
    return pa.table(
        {
            "appointment_number": _serial("A2026", n, 12),
            "id_number": sub["id_number"],
            "sex": pa.array(sex),
            "birth_date": sub["birth_date"],
            "mobile": sub["mobile"],
            "hospital": pa.array(_pick(rng, hospitals, n)),
            "department": pa.array(_pick(rng, [f"0{i}" for i in range(1, 9)], n)),
            "visit_date": pa.array(
                (NOW.astype("datetime64[D]") - rng.integers(0, 365, n)).astype("datetime64[D]")
            ),
            "diagnosis_category": pa.array(
                _pick(
                    rng,
                    [
                        "A00-B99",
                        "C00-D48",
                        "E00-E90",
                        "F00-F99",
                        "I00-I99",
                        "J00-J99",
                        "K00-K93",
                        "M00-M99",
                        "O00-O99",
                        "S00-T98",
                    ],
                    n,
                )
            ),
            "fee": pa.array(np.round(rng.choice([10, 20, 50, 100, 300, 800], n) * 1.0, 2)),
        }
    )


def ratings(rng: np.random.Generator, people: pa.Table) -> pa.Table:
    n = max(50, people.num_rows // 5)
    items = [
        "户籍迁移",
        "营业执照办理",
        "社保卡申领",
        "不动产登记",
        "公积金提取",
        "出入境证件",
        "婚姻登记",
        "医保报销",
    ]
    return pa.table(
        {
            "rating_number": _serial("R", n, 14),
            "service_item": pa.array(_pick(rng, items, n)),
            "channel": pa.array(
                _pick(rng, ["window", "app", "web", "sms", "kiosk"], n, [0.35, 0.3, 0.2, 0.1, 0.05])
            ),
            "score": pa.array(rng.choice([1, 2, 3, 4, 5], n, p=[0.03, 0.04, 0.08, 0.25, 0.6])),
            "rated_at": _ts(rng, n, 365),
            "division": pa.array(DISTRICTS[rng.integers(0, len(DISTRICTS), n)].astype(str)),
        }
    )


def tickets(rng: np.random.Generator, people: pa.Table) -> pa.Table:
    n = max(50, people.num_rows // 10)
    callers = mobiles(rng, n)
    topics = [
        "小区噪音扰民",
        "路灯不亮",
        "餐馆油烟",
        "公交班次太少",
        "物业收费",
        "医保报销咨询",
        "占道经营",
        "学区划分",
    ]
    topic = _pick(rng, topics, n)
    with_phone = rng.random(n) < 0.2  # people leave their number in the text: PII in free text
    content = np.where(
        with_phone,
        np.char.add(np.char.add(topic, "，请回电"), callers),
        np.char.add(topic, "，希望尽快处理"),
    )
    return pa.table(
        {
            "ticket_number": _serial("T2026", n, 10),
            "category": pa.array(
                _pick(rng, ["consult", "complaint", "report", "suggest", "help", "praise"], n)
            ),
            "division": pa.array(DISTRICTS[rng.integers(0, len(DISTRICTS), n)].astype(str)),
            "created_at": _ts(rng, n, 365),
            "status": pa.array(_pick(rng, ["open", "assigned", "closed"], n, [0.1, 0.2, 0.7])),
            "content": pa.array(content),
            "caller_mobile": pa.array(callers),
        }
    )


def grid_events(rng: np.random.Generator, people: pa.Table) -> pa.Table:
    n = max(50, people.num_rows // 10)
    return pa.table(
        {
            "event_number": _serial("E2026", n, 10),
            "event_type": pa.array(
                _pick(rng, ["sanitation", "safety", "dispute", "facility", "parking", "other"], n)
            ),
            "division": pa.array(DISTRICTS[rng.integers(0, len(DISTRICTS), n)].astype(str)),
            "reported_at": _ts(rng, n, 120),
            "resolved": pa.array(rng.random(n) < 0.8),
        }
    )


def abnormal(rng: np.random.Generator, firms: pa.Table) -> pa.Table:
    good = np.flatnonzero(pc.equal(firms["status"], "1").to_numpy(zero_copy_only=False))
    sub = firms.take(pa.array(rng.choice(good, max(5, len(good) // 20), replace=False)))
    n = sub.num_rows
    return pa.table(
        {
            "credit_code": sub["credit_code"],
            "name": sub["name"],
            "legal_rep_name": sub["legal_rep_name"],
            "reason": pa.array(
                _pick(
                    rng,
                    ["未按规定报送年度报告", "通过登记的住所无法联系", "未按规定公示即时信息"],
                    n,
                )
            ),
            "listed_on": pa.array(
                (NOW.astype("datetime64[D]") - rng.integers(1, 700, n)).astype("datetime64[D]")
            ),
        }
    )


def property_companies(rng: np.random.Generator, firms: pa.Table) -> pa.Table:
    sub = firms.take(
        pa.array(
            rng.choice(
                firms.num_rows, min(firms.num_rows, max(10, firms.num_rows // 25)), replace=False
            )
        )
    )
    n = sub.num_rows
    return pa.table(
        {
            "credit_code": sub["credit_code"],
            "name": sub["name"],
            "managed_projects": pa.array(rng.integers(1, 60, n)),
            "service_grade": pa.array(_pick(rng, ["A", "B", "C", "D"], n, [0.3, 0.4, 0.2, 0.1])),
        }
    )
