"""Synthetic residents of Qinghe, generated with numpy (no per-row Python).

ID numbers carry a district of the demo divisions code list, the birth date
and a sequence whose parity matches the sex, with a correct GB 11643 check
character.  Credit codes follow GB 32100.  Deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

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


def id_numbers(division: np.ndarray, birth: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """(n,) array of 18-character ID numbers (numpy bytes) with correct check characters."""
    days = birth.astype("datetime64[D]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    digits = np.concatenate(
        [
            _digits(division, 6),
            _digits(year, 4),
            _digits(month, 2),
            _digits(day, 2),
            _digits(seq, 3),
        ],
        axis=1,
    )
    out = np.empty((len(division), 18), dtype=np.uint8)
    out[:, :17] = digits + 48
    out[:, 17] = _ID_CHECK[(digits * _ID_W).sum(axis=1) % 11]
    return out.view("S18").ravel()


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


def mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    second = rng.integers(3, 10, n)
    rest = rng.integers(0, 10**9, n)
    return np.char.add(np.char.add("1", second.astype(str)), np.char.zfill(rest.astype(str), 9))


def generate_people(n: int, seed: int = 42) -> pa.Table:
    """``n`` residents: valid ID numbers, names, sex, birth dates, districts, mobiles, addresses."""
    rng = np.random.default_rng(seed)
    division = DISTRICTS[rng.choice(len(DISTRICTS), n, p=DISTRICT_WEIGHTS)]
    # ages 0-95, fewer of the very old
    age_days = (rng.beta(1.6, 2.2, n) * 95 * 365.25).astype(np.int64)
    birth = np.datetime64("2026-11-01") - age_days.astype("timedelta64[D]")
    sex = rng.integers(1, 3, n)  # 1 male, 2 female
    seq = rng.integers(0, 500, n) * 2 + (sex == 1)  # odd sequence = male
    ids = id_numbers(division, birth, seq)
    for _ in range(50):  # same district, birthday and sequence: draw a new sequence
        _, first = np.unique(ids, return_index=True)
        dup = np.setdiff1d(np.arange(n), first)
        if not len(dup):
            break
        seq[dup] = rng.integers(0, 500, len(dup)) * 2 + (sex[dup] == 1)
        ids[dup] = id_numbers(division[dup], birth[dup], seq[dup])
    street = np.array(STREETS)[rng.integers(0, len(STREETS), n)]
    address = np.char.add(np.char.add(street, rng.integers(1, 999, n).astype(str)), "号")
    household = np.char.add("H", np.char.zfill((np.arange(n) // 3 + 10_000_000).astype(str), 11))
    return pa.table(
        {
            "id_number": pa.array(ids.astype(str)),
            "name": pa.array(names(rng, n)),
            "sex": pa.array(sex.astype(str)),
            "birth_date": pa.array(birth.astype("datetime64[D]")),
            "household_division": pa.array(division.astype(str)),
            "address": pa.array(address),
            "mobile": pa.array(mobiles(rng, n)),
            "household_number": pa.array(household),
        }
    )
