"""The committed JSON Schemas equal the generated ones, and validate the demo catalog."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.jsonschema import SCHEMA_DIR, SCHEMAS, generate

REPO = Path(__file__).resolve().parents[2]


def test_committed_schemas_are_current() -> None:
    for name, text in generate().items():
        path = SCHEMA_DIR / name
        assert path.exists(), f"{name} missing: run onesource catalog schema --write"
        assert path.read_text(encoding="utf-8") == text, (
            f"{name} is stale: run onesource catalog schema --write"
        )


def test_vscode_settings_map_every_schema() -> None:
    settings = json.loads((REPO / ".vscode" / "settings.json").read_text(encoding="utf-8"))
    mapped = settings["yaml.schemas"]
    for name, (_model, glob) in SCHEMAS.items():
        assert mapped.get(f"./schemas/json/{name}") == glob


def test_schemas_forbid_unknown_keys() -> None:
    resource = json.loads((SCHEMA_DIR / "resource.schema.json").read_text(encoding="utf-8"))
    assert resource["additionalProperties"] is False
    assert "fields" in resource["required"]
