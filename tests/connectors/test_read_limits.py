"""Hostile and broken files: malformed headers refused before any row, bounded lines and
fields, strict decoding (no mojibake from mixed encodings)."""

from __future__ import annotations

import io
from typing import IO, Any

import pyarrow as pa
import pytest

from connectors.base import Extraction
from connectors.limits import MalformedHeaderError, ReadLimitError, ReadLimits
from connectors.push import read_push
from connectors.readers import ReadSpec, read_stream
from schemas.arrow import resource_schema
from schemas.catalog import Catalog
from schemas.identifiers import id_check_char

HEAD = "id_number,name,month,amount\n"


def person_id(i: int) -> str:
    body = f"33990219500101{i:03d}"
    return body + id_check_char(body)


@pytest.fixture
def elderly(catalog: Catalog) -> tuple[Any, pa.Schema]:
    res = catalog.resources["elderly_subsidies"]
    return res, resource_schema(catalog, res)


class CountingOpener:
    """Opens the same bytes again and again, counting the bytes readers take."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.read = 0

    def __call__(self) -> IO[bytes]:
        outer = self

        class Counting(io.BytesIO):
            def read(self, n: int | None = -1) -> bytes:
                out = super().read(n)
                outer.read += len(out)
                return out

            def readline(self, n: int | None = -1) -> bytes:
                out = super().readline(n)
                outer.read += len(out)
                return out

        return Counting(outer.data)


def read(elderly: tuple[Any, pa.Schema], data: bytes, **limits: int) -> tuple[Extraction, pa.Table]:
    res, schema = elderly
    spec = ReadSpec(format="csv", limits=ReadLimits(**limits))
    ex = Extraction(
        schema, lambda e: read_stream(e, res.name, spec, CountingOpener(data), "up.csv")
    )
    return ex, ex.read_all()


def test_repeated_headers_are_refused_by_name_before_any_row(
    elderly: tuple[Any, pa.Schema],
) -> None:
    # 2,000 copies of one name in 8 kB: the old renaming loop was cubic (10 s of CPU)
    res, schema = elderly
    data = (",".join(["id_number"] * 2000) + "\n").encode() + b"1,2\n" * 10
    opener = CountingOpener(data)
    spec = ReadSpec(format="csv", limits=ReadLimits(max_columns=5000))
    ex = Extraction(schema, lambda e: read_stream(e, res.name, spec, opener, "up.csv"))
    with pytest.raises(MalformedHeaderError) as err:
        ex.read_all()
    assert "up.csv" in str(err.value) and "'id_number' in columns 1, 2, 3" in str(err.value)
    assert err.value.code == "header-malformed"


@pytest.mark.parametrize(
    "header,limit,match",
    [
        (",".join(f"c{i}" for i in range(1001)), "max_columns", "1,001 columns"),
        ("id_number,name,month,amount," + "x" * 300, None, "header column 5 is 300 characters"),
        ("id_number" + ",x" * 200_000, "max_header_bytes", "longer than"),
    ],
    ids=["too-many-columns", "name-too-long", "header-line-too-long"],
)
def test_malformed_headers_name_the_limit(
    elderly: tuple[Any, pa.Schema], header: str, limit: str | None, match: str
) -> None:
    with pytest.raises((MalformedHeaderError, ReadLimitError), match=match) as err:
        read(elderly, (header + "\n").encode(), max_header_bytes=100_000)
    if limit is not None:
        assert isinstance(err.value, ReadLimitError) and err.value.limit == limit
    assert "up.csv" in str(err.value)


@pytest.mark.parametrize("quoted", [False, True], ids=["bare-line", "quoted-field"])
def test_an_overlong_line_is_one_reject_naming_its_line(
    elderly: tuple[Any, pa.Schema], quoted: bool
) -> None:
    good = f"{person_id(1)},张三,2026-01,100\n"
    huge = (b'"' + b"y" * 3_000_000 + b'"') if quoted else b"x" * 3_000_000
    data = (HEAD + good).encode() + huge + b"\n" + good.replace("2026-01", "2026-02").encode()
    ex, table = read(elderly, data, max_line_bytes=1 << 20, max_field_chars=1 << 20)
    assert table["month"].to_pylist() == ["2026-01", "2026-02"]
    assert [(r.line, "longer than" in r.reason) for r in ex.rejects] == [(3, True)]


def test_a_file_that_is_one_endless_line_does_not_hang(elderly: tuple[Any, pa.Schema]) -> None:
    data = HEAD.encode() + b"z" * 20_000_000  # no newline at all
    ex, table = read(elderly, data, max_line_bytes=1 << 20)
    assert table.num_rows == 0
    assert [(r.line, r.reason.split(" ")[0]) for r in ex.rejects] == [(2, "line")]


@pytest.mark.parametrize("short", [True, False], ids=["within-a-line", "over-many-lines"])
def test_a_field_over_the_field_limit_refuses_the_file_naming_the_line(
    elderly: tuple[Any, pa.Schema], short: bool
) -> None:
    # a runaway quoted field (often an unbalanced quote): the next record cannot be found
    field = "y" * 50_000 if short else '"' + "\n".join(["y" * 1000] * 50) + '"'
    data = f"{HEAD}{person_id(2)},李四,2026-01,100\n{person_id(1)},{field},2026-01,100\n"
    with pytest.raises(ReadLimitError) as err:
        read(elderly, data.encode(), max_field_chars=10_000)
    assert err.value.limit == "max_field_chars"
    assert "up.csv: line 3" in str(err.value) and "10000" in str(err.value)


def test_mixed_gbk_and_utf8_rows_never_become_mojibake(elderly: tuple[Any, pa.Schema]) -> None:
    names = ["沈敏", "张伟", "王芳", "李娜", "刘洋", "陈静"]
    lines = [HEAD.encode("gbk")]
    for i, name in enumerate(names * 5):
        enc = "utf-8" if i % 6 == 0 else "gbk"  # mostly GBK, a few UTF-8 rows
        lines.append(f"{person_id(i)},{name},2026-01,100\n".encode(enc))
    ex, table = read(elderly, b"".join(lines))
    # every committed name is one of the real names: no 娌堟晱
    assert set(table["name"].to_pylist()) <= set(names)
    assert table.num_rows == 25
    utf8_lines = sorted(r.line for r in ex.rejects)
    assert utf8_lines == [2 + i for i in range(30) if i % 6 == 0]
    assert all("mixed encodings" in r.reason for r in ex.rejects)


def test_mostly_utf8_file_with_gbk_rows_rejects_the_gbk_rows(
    elderly: tuple[Any, pa.Schema],
) -> None:
    lines = [HEAD.encode()]
    for i in range(30):
        enc = "gbk" if i % 10 == 3 else "utf-8"
        lines.append(f"{person_id(i)},沈敏{i},2026-01,100\n".encode(enc))
    ex, table = read(elderly, b"".join(lines))
    assert table.num_rows == 27 and all(n.startswith("沈敏") for n in table["name"].to_pylist())
    assert sorted(r.line for r in ex.rejects) == [5, 15, 25]


def test_push_row_limit(elderly: tuple[Any, pa.Schema]) -> None:
    res, schema = elderly
    body = HEAD + "".join(f"{person_id(i)},张{i},2026-01,100\n" for i in range(20))
    ex = read_push(res, schema, body.encode(), filename="a.csv", fmt="csv", max_rows=10)
    with pytest.raises(ReadLimitError) as err:
        ex.read_all()
    assert err.value.limit == "max_rows" and "10" in str(err.value)
