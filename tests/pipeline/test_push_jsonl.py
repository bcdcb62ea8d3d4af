"""A pushed JSON-lines file is read line by line (it used to be parsed as one JSON document)."""

from __future__ import annotations

import json
from pathlib import Path

from onesource.catalog.loader import load_catalog
from onesource.pipeline.ingest import ingest_push
from schemas.identifiers import id_check_char

REPO = Path(__file__).resolve().parents[2]


def test_pushed_jsonl_is_read_line_by_line(hub_home: Path) -> None:
    catalog = load_catalog(REPO / "catalog").raise_for_issues()
    lines = []
    for i in range(40):
        body = f"33990219500101{i:03d}"
        lines.append(
            json.dumps(
                {
                    "id_number": body + id_check_char(body),
                    "name": f"钱{i}",
                    "month": "2026-01",
                    "amount": 100 + i,
                },
                ensure_ascii=False,
            )
        )
    data = ("\n".join([*lines, "{not json"]) + "\n").encode()
    result = ingest_push(
        "elderly_subsidies",
        data,
        filename="m.jsonl",
        fmt=None,
        department="civil",
        catalog=catalog,
    )
    assert result.status == "succeeded" and result.rows_good == 40, result
    assert result.rows_unparsed == 1, result
