"""UTF-8 text inside a GBK/GB18030 line is refused as mixed encodings, never mojibake;
ordinary GBK text (the demo's names and addresses) is never refused for it."""

from __future__ import annotations

import random

from connectors.textlines import decode_line, utf8_inside_gb
from onesource.demo.people import GIVEN, SURNAMES


def names(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        for _ in range(n)
    ]


def test_utf8_name_next_to_gbk_text_is_refused() -> None:
    # attack-a push_mixed_line.py: committed 娌堟晱（女）
    line = b"339902194001010012," + "沈敏".encode() + "（女）".encode("gbk") + b",2024-05,300\n"
    text, reason = decode_line(line, "gb18030", True)
    assert text is None and reason is not None
    assert reason.startswith("mixed encodings") and "沈敏" in reason


def test_utf8_after_gbk_in_one_run_is_refused() -> None:
    line = "备注（女）".encode("gbk") + "王芳".encode() + b",1\n"
    assert utf8_inside_gb(line) == "王芳"


def test_realistic_gbk_text_is_not_refused() -> None:
    lines = [
        f"339902199001011234,{n},男,城东街道（社区）{n}家,2024-05,300\n".encode("gbk")
        for n in names(50_000, 1)
    ]
    refused = [line for line in lines if decode_line(line, "gb18030", True)[0] is None]
    assert refused == []


def test_realistic_utf8_names_in_gbk_lines_are_all_refused() -> None:
    lines = [
        f"339902199001011234,{n}".encode() + "（女）".encode("gbk") + b",2024\n"
        for n in names(20_000, 2)
    ]
    kept = [line for line in lines if decode_line(line, "gb18030", True)[0] is not None]
    assert kept == []


def test_utf8_file_with_invalid_bytes_rejects_those_lines() -> None:
    text, reason = decode_line("张三".encode("gbk") + b",1\n", "utf-8", False)
    assert text is None and reason is not None and "undecodable" in reason
