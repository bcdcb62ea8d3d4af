"""ID numbers (GB 11643) and credit codes (GB 32100): the one implementation in
``schemas.identifiers`` against python-stdnum as the oracle, and its callers
(quality, leak gate) against it.

Generated values, fixed seed: valid ones, one wrong check character, wrong dates,
letters in digit places, wrong lengths.  Where our rules differ from stdnum's on
purpose (stripping, the division table, letters in a credit code's places 1-2),
the difference is asserted, not skipped.
"""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from stdnum.cn import ric, uscc

from onesource.anonymize import leakpatterns
from onesource.quality import domain
from schemas import identifiers as ids

SEED = 20261130
ALPHA = ids.CREDIT_ALPHABET
DIVISIONS = ["110101", "110105", "310104", "330102", "420106", "440305", "510104", "650102"]


def _id_values(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        year = rng.randint(1900, 2025)
        body = (
            rng.choice(DIVISIONS)
            + f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 31):02d}{rng.randint(0, 999):03d}"
        )
        check = ric.calc_check_digit(body + "0")
        kind = rng.random()
        if kind < 0.4:
            out.append(body + check)
        elif kind < 0.6:  # a wrong check char
            out.append(body + rng.choice([c for c in "0123456789X" if c != check]))
        elif kind < 0.7:  # a lower-case x where X is due (accepted by both)
            out.append(body + check.lower())
        elif kind < 0.8:  # impossible months and days, with a matching check char
            bad = body[:10] + rng.choice(["00", "13", "02"]) + rng.choice(["00", "30", "32"])
            bad += body[14:]
            out.append(bad + ric.calc_check_digit(bad + "0"))
        elif kind < 0.9:  # a letter among the digits
            i = rng.randrange(17)
            out.append(body[:i] + rng.choice("ABXZ") + body[i + 1 :] + check)
        else:  # wrong lengths
            out.append((body + check)[: rng.choice([15, 16, 17])] + rng.choice(["", "00"]))
    return out


def _credit_values(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        body = (
            rng.choice("123456789")
            + rng.choice("12359")
            + f"{rng.randint(0, 999999):06d}"
            + "".join(rng.choice(ALPHA) for _ in range(9))
        )
        check = uscc.calc_check_digit(body + "0")
        kind = rng.random()
        if kind < 0.45:
            out.append(body + check)
        elif kind < 0.7:
            out.append(body + rng.choice([c for c in ALPHA if c != check]))
        elif kind < 0.8:  # I, O, S, V, Z are not in the alphabet
            i = rng.randrange(8, 18)
            out.append((body + check)[:i] + rng.choice("IOSVZ") + (body + check)[i + 1 :])
        elif kind < 0.9:  # lower case: not a credit code as written
            out.append((body + check).lower())
        else:
            out.append((body + check)[: rng.choice([16, 17])])
    return out


@pytest.fixture(scope="module")
def rng() -> random.Random:
    return random.Random(SEED)


def test_id_numbers_agree_with_stdnum(rng: random.Random, monkeypatch: pytest.MonkeyPatch) -> None:
    # stdnum also checks that the county existed in the birth year (its own table); the
    # hub checks divisions against the catalog's code list instead, when asked
    monkeypatch.setattr(ric, "get_birth_place", lambda number: {})
    values = _id_values(rng, 4000)
    got = ids.id_number_checks(values).to_pylist()
    want = [ric.is_valid(v) for v in values]
    assert 1000 < sum(want) < 3000  # both kinds well represented
    assert got == want
    assert [ids.id_number_valid(v) for v in values] == want  # the scalar wrapper


def test_credit_codes_agree_with_stdnum(rng: random.Random) -> None:
    values = _credit_values(rng, 4000)
    got = ids.credit_code_checks(values).to_pylist()
    # stdnum upper-cases first; as written, a lower-case code is not one (module docstring)
    want = [uscc.is_valid(v) and v == v.upper() for v in values]
    assert 1000 < sum(want) < 3000
    assert got == want
    assert [ids.credit_code_valid(v) for v in values] == want


def test_check_characters_agree_with_stdnum(rng: random.Random) -> None:
    for _ in range(300):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        assert ids.id_check_char(body) == ric.calc_check_digit(body + "0")
        code = "".join(rng.choice(ALPHA) for _ in range(17))
        assert ids.credit_check_char(code) == uscc.calc_check_digit(code + "0")
    with pytest.raises(ValueError):
        ids.credit_check_char("91350100I00010OY4")
    with pytest.raises(ValueError):
        ids.id_check_char("1101051949123100")


def test_letters_in_places_1_and_2_of_a_credit_code(rng: random.Random) -> None:
    """GB 32100 allows alphabet letters there (``Y``: other authority); stdnum does not."""
    for _ in range(200):
        body = rng.choice("ANY") + rng.choice(ALPHA) + f"{rng.randint(0, 999999):06d}"
        body += "".join(rng.choice(ALPHA) for _ in range(9))
        code = body + uscc.calc_check_digit(body + "0")
        assert ids.credit_code_valid(code) and not uscc.is_valid(code)


VALID_ID = "11010519491231002X"
VALID_CREDIT = "91350100M000100Y43"


@pytest.mark.parametrize(
    "value,expected",
    [
        (None, None),
        ("", False),
        ("   ", False),
        (" " + VALID_ID, False),
        (VALID_ID + " ", False),
        ("110105-19491231-002X", False),
        ("1101051949123-002X", False),
        (VALID_ID, True),
        (VALID_ID.lower(), True),
    ],
    ids=[
        "null",
        "empty",
        "blank",
        "leading-space",
        "trailing-space",
        "dashes",
        "inner-dash",
        "valid",
        "lower-x",
    ],
)
def test_one_null_and_whitespace_rule(value: str | None, expected: bool | None) -> None:
    """Null in, null out; every string checked as written (stdnum would strip)."""
    assert ids.id_number_checks([value]).to_pylist() == [expected]
    credit = None if value is None else value.replace(VALID_ID.lower(), VALID_ID)
    credit = None if credit is None else credit.replace(VALID_ID, VALID_CREDIT)
    assert ids.credit_code_checks([credit]).to_pylist() == [
        None if expected is None else expected and credit == VALID_CREDIT
    ]
    assert ids.id_number_valid(value) is bool(expected)
    # each caller's reading of a null: quality passes it to `required`, the leak gate finds nothing
    col = pa.array([value], pa.string())
    assert domain.id_number_valid(col).tolist() == [True if expected is None else expected]
    assert leakpatterns.idcard_valid(col).tolist() == [bool(expected)]


def test_callers_use_the_one_implementation(rng: random.Random) -> None:
    values = _id_values(rng, 1000) + [None]
    col = pa.chunked_array([values[:500], values[500:]])
    one = ids.id_number_checks(values)
    assert domain.id_number_valid(col, max_year=2026).tolist() == [
        True if v is None else v for v in one.to_pylist()
    ]
    no_date = ids.id_number_checks(values, birth_date=False).to_pylist()
    assert leakpatterns.idcard_valid(col).tolist() == [bool(v) for v in no_date]
    codes = _credit_values(rng, 1000)
    assert (
        leakpatterns.credit_code_valid(codes)
        == np.array(ids.credit_code_checks(codes).to_pylist(), dtype=bool)
    ).all()
    assert (
        domain.credit_code_valid(pa.array(codes)).tolist()
        == ids.credit_code_checks(codes).to_pylist()
    )


def test_year_range_and_divisions() -> None:
    body = "11010518790101001"
    old = body + ids.id_check_char(body)
    assert ids.id_number_valid(old)
    assert not domain.id_number_valid(pa.array([old])).tolist()[0]  # before 1880
    born = "11010520300101001"
    future = born + ids.id_check_char(born)
    assert domain.id_number_valid(pa.array([future]), max_year=2026).tolist() == [False]
    assert domain.id_number_valid(pa.array([VALID_ID]), ["110105"]).tolist() == [True]
    assert domain.id_number_valid(pa.array([VALID_ID]), ["110101"]).tolist() == [False]


@pytest.mark.parametrize(
    "value,expected",
    [
        ("110105491231002", True),
        ("990105491231002", False),  # no province 99
        ("110105490231002", False),  # 31 February
        ("11010549123100X", False),
        ("11010549123100", False),
        (None, None),
    ],
    ids=["valid", "province", "date", "letter", "short", "null"],
)
def test_fifteen_digit_legacy_numbers(value: str | None, expected: bool | None) -> None:
    assert ids.id15_checks([value]).to_pylist() == [expected]


def test_fifteen_digit_numbers_against_a_date_reference(rng: random.Random) -> None:
    import datetime

    values = [
        rng.choice(DIVISIONS + ["990101", "000000"])
        + f"{rng.randint(0, 99):02d}{rng.randint(0, 13):02d}{rng.randint(0, 32):02d}"
        + f"{rng.randint(0, 999):03d}"
        for _ in range(2000)
    ]

    def ref(v: str) -> bool:
        try:
            datetime.date(1900 + int(v[6:8]), int(v[8:10]), int(v[10:12]))
        except ValueError:
            return False
        return int(v[:2]) in ids.PROVINCE_CODES

    assert ids.id15_checks(values).to_pylist() == [ref(v) for v in values]
