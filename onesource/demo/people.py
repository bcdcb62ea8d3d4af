"""Synthetic residents of Qinghe, generated with numpy (no per-row Python).

ID numbers carry a district of the demo divisions code list, the birth date
and a sequence whose parity matches the sex, with a correct GB 11643 check
character.  Credit codes follow GB 32100.  Deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.identifiers import CREDIT_ALPHABET, CREDIT_WEIGHTS, ID_CHECK, ID_WEIGHTS

DISTRICTS = np.array([339902, 339903, 339904, 339905, 339911, 339921, 339922, 339981])
DISTRICT_WEIGHTS = np.array([0.2, 0.18, 0.16, 0.1, 0.12, 0.09, 0.07, 0.08])
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文玉兰志红宇浩然欣怡子涵梓轩晨雨思佳嘉怡俊杰博文一鸣雪梅海燕"
)
STREETS = [
    "清源路",
    "河东大道",
    "河西街",
    "新港路",
    "高新大道",
    "青山路",
    "白河路",
    "临江路",
    "人民路",
    "解放路",
    "中山路",
    "建设路",
]
_ID_W = np.array(ID_WEIGHTS, dtype=np.int64)
_ID_CHECK = np.frombuffer(ID_CHECK.encode(), dtype=np.uint8)
_CREDIT_W = np.array(CREDIT_WEIGHTS, dtype=np.int64)
_CREDIT_ALPHA = np.frombuffer(CREDIT_ALPHABET.encode(), dtype=np.uint8)


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Integers -> (n, width) array of decimal digits, most significant first."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers) % 10


def fixed_strings(chars: np.ndarray) -> pa.StringArray:
    """(n, width) uint8 ASCII matrix -> Arrow strings, zero-copy (no Python objects)."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def fixed_chars(values: pa.Array | pa.ChunkedArray, width: int) -> np.ndarray:
    """Arrow strings of exactly ``width`` ASCII characters -> (n, width) uint8 matrix (a copy)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.string())
    n = len(values)
    if values.null_count or not pc.all(pc.equal(pc.binary_length(values), width)).as_py():
        raise ValueError(f"not all values are {width} characters")
    offsets = np.frombuffer(values.buffers()[1], np.int32)[values.offset : values.offset + n + 1]
    data = np.frombuffer(values.buffers()[2], np.uint8)[offsets[0] : offsets[0] + n * width]
    return data.reshape(n, width).copy()


def _day_digits(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970 -> (YYYYMMDD digits of every day in their range, index of each day)."""
    lo = int(days.min())
    span = np.arange(lo, int(days.max()) + 1).astype("datetime64[D]")
    year = span.astype("datetime64[Y]").astype(np.int64) + 1970
    month = span.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (span - span.astype("datetime64[M]")).astype(np.int64) + 1
    return _digits(year * 10_000 + month * 100 + day, 8), days - lo


def _id_chars(division: np.ndarray, birth: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """(n, 18) uint8 ID-number characters.  Digits come from small per-value tables (8 districts,
    some 35k birth days, 1,000 sequences) indexed per person, not per-person arithmetic."""
    n = len(division)
    out = np.empty((n, 18), dtype=np.uint8)
    if not n:
        return out
    divs, div_at = np.unique(division, return_inverse=True)
    div_digits = _digits(divs.astype(np.int64), 6)
    date_digits, day_at = _day_digits(birth.astype("datetime64[D]").astype(np.int64))
    seq_digits = _digits(np.arange(int(seq.max()) + 1), 3)
    w = _ID_W
    total = (
        (div_digits @ w[:6])[div_at] + (date_digits @ w[6:14])[day_at] + (seq_digits @ w[14:])[seq]
    )
    out[:, :6] = (div_digits + 48).astype(np.uint8)[div_at]
    out[:, 6:14] = (date_digits + 48).astype(np.uint8)[day_at]
    out[:, 14:17] = (seq_digits + 48).astype(np.uint8)[seq]
    out[:, 17] = _ID_CHECK[total % 11]
    return out


def id_numbers(division: np.ndarray, birth: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """(n,) array of 18-character ID numbers (numpy bytes) with correct check characters."""
    return _id_chars(division, birth, seq).view("S18").ravel()


def break_check_digit(ids: np.ndarray) -> np.ndarray:
    """The same IDs with a wrong check character (for planted defects)."""
    raw = ids.view(np.uint8).reshape(len(ids), 18).copy()
    raw[:, 17] = np.where(raw[:, 17] == ord("0"), ord("1"), ord("0"))
    return raw.view("S18").ravel()


def credit_codes(division: np.ndarray, serial: np.ndarray, kind: str = "91") -> np.ndarray:
    """Unified social credit codes: registration type, division, 9-character org code, check."""
    n = len(division)
    org = _digits(serial, 8) + 48
    values = np.empty((n, 17), dtype=np.int64)
    values[:, 0] = CREDIT_ALPHABET.index(kind[0])
    values[:, 1] = CREDIT_ALPHABET.index(kind[1])
    values[:, 2:8] = _digits(division, 6)
    values[:, 8] = CREDIT_ALPHABET.index("M")  # org codes here: "M" + 8 digits
    values[:, 9:17] = org - 48
    check = (31 - (values * _CREDIT_W).sum(axis=1) % 31) % 31
    out = np.empty((n, 18), dtype=np.uint8)
    out[:, :17] = _CREDIT_ALPHA[values]
    out[:, 17] = _CREDIT_ALPHA[check]
    return out.view("S18").ravel()


def names(rng: np.random.Generator, n: int) -> np.ndarray:
    surname = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    first = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    second = np.where(rng.random(n) < 0.6, np.array(GIVEN)[rng.integers(0, len(GIVEN), n)], "")
    return np.char.add(np.char.add(surname, first), second)


def _mobile_array(rng: np.random.Generator, n: int) -> pa.Array:
    """ "1", a digit 3-9, nine random digits (Arrow string kernels, no Python objects)."""
    second = pa.array(rng.integers(3, 10, n)).cast(pa.string())
    rest = pc.utf8_lpad(pa.array(rng.integers(0, 10**9, n)).cast(pa.string()), 9, "0")
    return pc.binary_join_element_wise(pa.scalar("1"), second, rest, "")


def mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.asarray(_mobile_array(rng, n).to_numpy(zero_copy_only=False)).astype(str)


def generate_people(n: int, seed: int = 42) -> pa.Table:
    """``n`` residents: valid ID numbers, names, sex, birth dates, districts, mobiles, addresses."""
    rng = np.random.default_rng(seed)
    district = rng.choice(len(DISTRICTS), n, p=DISTRICT_WEIGHTS)
    division = DISTRICTS[district]
    # ages 0-95, fewer of the very old
    age_days = (rng.beta(1.6, 2.2, n) * 95 * 365.25).astype(np.int64)
    birth = np.datetime64("2026-11-01") - age_days.astype("timedelta64[D]")
    sex = rng.integers(1, 3, n)  # 1 male, 2 female
    seq = rng.integers(0, 500, n) * 2 + (sex == 1)  # odd sequence = male
    ids = _id_chars(division, birth, seq)
    # an integer that is equal exactly when the ID numbers are: district, birth day, sequence
    day = birth.astype("datetime64[D]").astype(np.int64)
    for _ in range(50):  # same district, birthday and sequence: draw a new sequence
        key = (district * 100_000 + (day - day.min() if n else day)) * 1000 + seq
        _, first = np.unique(key, return_index=True)
        later = np.ones(n, dtype=bool)
        later[first] = False
        dup = np.flatnonzero(later)
        if not len(dup):
            break
        seq[dup] = rng.integers(0, 500, len(dup)) * 2 + (sex[dup] == 1)
        ids[dup] = _id_chars(division[dup], birth[dup], seq[dup])
    street = pa.array(STREETS).take(pa.array(rng.integers(0, len(STREETS), n)))
    number = pa.array(rng.integers(1, 999, n)).cast(pa.string())
    address = pc.binary_join_element_wise(street, number, pa.scalar("号"), "")
    household = pc.binary_join_element_wise(
        pa.scalar("H"),
        pc.utf8_lpad(pa.array(np.arange(n) // 3 + 10_000_000).cast(pa.string()), 11, "0"),
        "",
    )
    return pa.table(
        {
            "id_number": fixed_strings(ids),
            "name": pa.array(names(rng, n)),
            "sex": pa.array(["1", "2"]).take(pa.array(sex - 1)),
            "birth_date": pa.array(birth.astype("datetime64[D]")),
            "household_division": pa.array(DISTRICTS.astype(str)).take(pa.array(district)),
            "address": address,
            "mobile": _mobile_array(rng, n),
            "household_number": household,
        }
    )
