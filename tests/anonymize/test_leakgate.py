import random

import numpy as np
import pyarrow as pa
import pytest
from stdnum.cn import ric as stdnum
from stdnum.cn import uscc

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
    """Scalar reference for GB 32100 (the division in places 3-8 is digits)."""
    if v is None or len(v) != 18 or any(c not in CREDIT for c in v) or not v[2:8].isdigit():
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


# --- attacks that got through the gate (issue 12): normalization, numbers, names ---

ID_15 = "110105491231002"  # first-generation: 6 division + YYMMDD + 3 sequence, no check char
LOWER_CREDIT = CREDIT_CODE.lower()
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("电话 138 1234 5678 请回电", "mobile"),
        ("电话138-1234-5678", "mobile"),
        ("+86 138 1234 5678", "mobile"),
        ("手机１３８１２３４５６７８", "mobile"),
        ("手机 １３８－１２３４－５６７８", "mobile"),
        (f"身份证 {VALID_ID[:6]} {VALID_ID[6:14]} {VALID_ID[14:]}", "id-number"),
        (f"身份证{VALID_ID[:6]}-{VALID_ID[6:14]}-{VALID_ID[14:]}", "id-number"),
        (f"身份证{VALID_ID.translate(FULL_WIDTH)}", "id-number"),
        (f"旧证号{ID_15}已换领", "id-number"),
        (f"旧证号 {ID_15[:6]} {ID_15[6:12]} {ID_15[12:]}", "id-number"),
        (f"企业代码 {LOWER_CREDIT}", "credit-code"),
        (f"企业代码{CREDIT_CODE.translate(FULL_WIDTH)}", "credit-code"),
        ("导出值 3.3010519491231E+17 见附件", "id-number"),
        ("mobile 1.3812345678E10", "mobile"),
    ],
    ids=[
        "mobile-spaces",
        "mobile-dashes",
        "mobile-plus86-spaces",
        "mobile-full-width",
        "mobile-full-width-dashes",
        "id-spaces",
        "id-dashes",
        "id-full-width",
        "id-15-digit",
        "id-15-digit-spaces",
        "credit-lower-case",
        "credit-full-width",
        "id-scientific-text",
        "mobile-scientific-text",
    ],
)
def test_written_differently_still_found(text, kind):
    t = pa.table({"note": ["无", text]})
    found = scan(t, classification={"note": "none"})
    assert kind in kinds(found), found
    assert all(f.count == 1 for f in found if f.kind == kind)


@pytest.mark.parametrize(
    "column",
    [
        pa.array([330102196606010751.0, 1.5], pa.float64()),  # published as 3.3010219660601075e+17
        pa.array([float(VALID_ID[:17] + "0"), 2.0], pa.float64()),
        pa.array([int(VALID_ID[:17] + "0"), 7], pa.int64()),  # X check char lost in an int
        pa.array([int(ID_15), 7], pa.int64()),
        pa.array([13812345678.0, 3.25], pa.float64()),
        pa.array([13812345678, 5], pa.uint64()),
        pa.array([13812345678.0, 3.25], pa.float32()),  # float32 keeps no digits: still refused
    ],
    ids=[
        "float-id",
        "float-id-x",
        "int-id-x-lost",
        "int-id-15",
        "float-mobile",
        "uint-mobile",
        "float32-mobile",
    ],
)
def test_identifier_in_a_numeric_column(column):
    t = pa.table({"value": column})
    found = scan(t, classification={"value": "none"})
    assert kinds(found) & {"id-number", "mobile"}, found


def test_numbers_that_are_not_identifiers_pass():
    t = pa.table(
        {
            "amount": pa.array([13.5, 1234567.25, 2.0e10, -5.0, float("nan"), None], pa.float64()),
            "count": pa.array([10, 20_000_000_000, 1, -20, 0, None], pa.int64()),
            "text": [
                "面积 135.12345678 平方米",
                "2024-01-05 12:30:00",
                "订单 20240105123000",
                "坐标 119.2965434, 26.0745",
                "编号 990105491231002",  # 15 digits, but 99 is no province
                "编号 110105491331002",  # 15 digits, month 13
            ],
        }
    )
    cls = {"amount": "sensitive", "count": "none", "text": "none"}
    assert scan(t, classification=cls) == []


def test_id_check_agrees_with_python_stdnum():
    rng = random.Random(11)
    ids = []
    for _ in range(300):
        born = f"{rng.randint(1960, 2010)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        ids.append(
            with_check(rng.choice(["110105", "110101"]) + born + f"{rng.randint(0, 999):03d}")
        )
    assert all(stdnum.is_valid(i) for i in ids)  # the oracle agrees these are ID numbers
    ids += ["11010519491231002X", VALID_ID]
    t = pa.table({"note": [f"号码{i}结束" for i in ids]})
    found = scan(t, classification={"note": "none"})
    assert [(f.kind, f.count) for f in found] == [("id-number", len(ids))]
    from stdnum.exceptions import InvalidChecksum, ValidationError

    codes = []
    for _ in range(3000):
        head = rng.choice("123456789") + rng.choice("12359")
        body = "".join(rng.choice("0123456789") for _ in range(6))
        codes.append(head + body + "".join(rng.choice(CREDIT) for _ in range(10)))
    oracle = {}
    for c in codes:
        try:
            oracle[c] = bool(uscc.validate(c))
        except InvalidChecksum:
            oracle[c] = False
        except ValidationError:
            continue  # a format stdnum rejects for other reasons: no oracle
    assert sum(oracle.values()) > 50
    assert credit_code_valid(list(oracle)).tolist() == list(oracle.values())
    t = pa.table({"txt": [f"代码{c.lower()}" for c in oracle]})
    found = scan(t, classification={"txt": "none"})
    got = [(f.kind, f.count) for f in found if f.kind == "credit-code"]
    assert got == [("credit-code", sum(oracle.values()))]


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("今天王小明来电反映噪音", True),  # 3-char name inside CJK text
        ("李四来电", True),  # 2-char name inside CJK text
        ("来电人：李四。", True),
        ("called by LI SI today", True),  # latin name, any case, as whole words
        ("called by Li  Si today", True),
        ("王 小 明来电", True),  # spaced out
        ("王小明", True),
        ("Elise Lisiana visited", False),  # 'LI SI' not as whole words
        ("李", False),  # single characters are only matched as whole cells of 1-char values
        ("四季度", False),
    ],
)
def test_direct_names_inside_free_text(text, hit):
    t = pa.table({"remark": [text, "无"]})
    direct = {"name": pa.array(["王小明", "李四", "Li Si", "周"])}
    found = scan(t, classification={"remark": "none"}, direct_values=direct)
    assert ("direct-value" in kinds(found)) is hit, found


def test_single_char_direct_value_only_whole_cell():
    direct = {"name": pa.array(["周"])}
    t = pa.table({"who": ["周", "周末"]})
    found = scan(t, classification={"who": "none"}, direct_values=direct)
    assert [(f.kind, f.count) for f in found] == [("direct-value", 1)]


def test_direct_number_value_in_float_column():
    direct = {"mobile": pa.array(["13912345678"]), "licence": pa.array(["88001234567"])}
    t = pa.table({"x": pa.array([88001234567.0, 1.0])})
    found = scan(t, classification={"x": "none"}, direct_values=direct)
    assert "direct-value" in kinds(found)


def test_column_names_are_scanned():
    t = pa.table({f"col_{PHONE}": [1, 2]})
    found = scan(t, classification={f"col_{PHONE}": "none"})
    assert "mobile" in kinds(found)
