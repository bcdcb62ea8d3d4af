import random

import numpy as np
import pyarrow as pa
import pytest

from onesource.anonymize.leakgate import credit_code_valid, idcard_valid, scan

ID_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CREDIT = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def id_ref(v) -> bool:
    """Scalar reference for GB 11643."""
    if v is None or len(v) != 18 or not v[:17].isdigit():
        return False
    r = sum(int(c) * w for c, w in zip(v[:17], ID_W, strict=True)) % 11
    return v[17].upper() == "10X98765432"[r]


def credit_ref(v) -> bool:
    """Scalar reference for GB 32100."""
    if v is None or len(v) != 18 or any(c not in CREDIT for c in v):
        return False
    s = sum(CREDIT.index(c) * w for c, w in zip(v[:17], CREDIT_W, strict=True))
    return CREDIT.index(v[17]) == (31 - s % 31) % 31


def with_check(first17: str) -> str:
    r = sum(int(c) * w for c, w in zip(first17, ID_W, strict=True)) % 11
    return first17 + "10X98765432"[r]


VALID_ID = with_check("11010519491231002")  # -> ...002X
PHONE = "13812345678"
CREDIT_CODE = "91350100M000100Y43"


def test_check_digits_match_scalar_reference():
    rng = random.Random(5)
    ids = [with_check("".join(rng.choice("0123456789") for _ in range(17))) for _ in range(300)]
    ids += ["".join(rng.choice("0123456789X") for _ in range(18)) for _ in range(300)]
    ids += [None, "", "123", VALID_ID.lower()]
    assert idcard_valid(ids).tolist() == [id_ref(v) for v in ids]
    codes = ["".join(rng.choice(CREDIT + "IO") for _ in range(18)) for _ in range(500)]
    codes += [CREDIT_CODE, None, "short"]
    assert credit_code_valid(codes).tolist() == [credit_ref(v) for v in codes]
    assert credit_code_valid([CREDIT_CODE]).tolist() == [True]


def kinds(findings, column=None):
    return {f.kind for f in findings if column is None or f.column == column}


def test_id_number_hidden_in_free_text():
    t = pa.table({"note": ["无", f"来电人身份证{VALID_ID}，已核实", "ok"]})
    found = scan(t, classification={"note": "none"})
    assert kinds(found) == {"id-number"}
    f = found[0]
    assert f.count == 1 and VALID_ID not in f.example and "*" in f.example


def test_phone_inside_text_with_digit_boundaries():
    t = pa.table({"note": [f"电话{PHONE}转1", f"+86{PHONE}", f"order 9{PHONE}9", "no"]})
    found = scan(t, classification={"note": "none"})
    assert [(f.kind, f.count) for f in found] == [("mobile", 2)]


def test_no_false_positive_on_wrong_check_digit():
    wrong = VALID_ID[:17] + ("1" if VALID_ID[17] != "1" else "2")
    t = pa.table({"serial": [wrong, f"编号{wrong}"]})
    assert scan(t, classification={"serial": "none"}) == []


def test_credit_code_and_email():
    t = pa.table({"txt": [f"企业{CREDIT_CODE}", "联系 zhang.san@example.com 谢谢"]})
    found = scan(t, classification={"txt": "none"})
    assert kinds(found) == {"credit-code", "email"}
    assert all("zhang.san" not in f.example for f in found)


def test_raw_input_value_exact_and_embedded():
    t = pa.table(
        {
            "who": ["王小明", "someone"],
            "remark": ["ticket A1B2C3D4E5 closed", "x"],
            "n": [1, 2],
        }
    )
    direct = {"name": pa.array(["王小明", "李四"]), "licence": pa.array(["A1B2C3D4E5"])}
    found = scan(
        t, classification={"who": "none", "remark": "none", "n": "none"}, direct_values=direct
    )
    got = {(f.column, f.kind, f.detail) for f in found}
    assert ("who", "direct-value", "value of input column 'name'") in got
    assert ("remark", "direct-value", "value of input column 'licence'") in got
    assert len(found) == 2


def test_integer_phone_column_is_scanned():
    t = pa.table({"tel": pa.array([13812345678, 5], pa.int64())})
    assert kinds(scan(t, classification={"tel": "none"})) == {"mobile"}


@pytest.mark.parametrize(
    ("classification", "kind"),
    [({}, "unclassified"), ({"c": "direct"}, "direct-identifier-column")],
    ids=["unclassified", "direct-class"],
)
def test_column_level_findings(classification, kind):
    assert kinds(scan(pa.table({"c": ["a"]}), classification=classification)) == {kind}


def test_pseudonym_columns_checked_for_shape_not_patterns():
    rng = np.random.default_rng(0)
    hexes = [bytes(rng.integers(0, 256, 16, dtype=np.uint8)).hex() for _ in range(2000)]
    hexes.append("1" * 0 + "0123456789" * 3 + "ab")  # 30 digits in a row: still a pseudonym
    ok = pa.table({"pid": hexes})
    assert scan(ok, classification={"pid": "pseudonym"}) == []
    bad = pa.table({"pid": [VALID_ID]})
    assert kinds(scan(bad, classification={"pid": "pseudonym"})) == {"pseudonym-format"}


def test_clean_table_passes():
    t = pa.table({"age": ["30-34", "35-39"], "sex": ["1", "2"], "income": [1000, 2000]})
    assert scan(t, classification={"age": "quasi", "sex": "quasi", "income": "sensitive"}) == []
