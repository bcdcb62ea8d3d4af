"""JSON Schemas of the catalog files, for editors (validation and completion)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.codes import CodeList
from schemas.department import DepartmentsFile
from schemas.element import ElementsFile
from schemas.release import NegativeList, Release
from schemas.resource import Resource
from schemas.search import SearchSettings

SCHEMA_DIR = Path(__file__).parent / "json"

# file name -> (model, catalog glob it applies to)
SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "departments.schema.json": (DepartmentsFile, "catalog/departments.yaml"),
    "elements.schema.json": (ElementsFile, "catalog/elements/*.yaml"),
    "code_list.schema.json": (CodeList, "catalog/codes/*.yaml"),
    "resource.schema.json": (Resource, "catalog/resources/*/*.yaml"),
    "release.schema.json": (Release, "catalog/releases/*.yaml"),
    "negative_list.schema.json": (NegativeList, "catalog/negative_list.yaml"),
    "search.schema.json": (SearchSettings, "catalog/search.yaml"),
}


def generate() -> dict[str, str]:
    """File name -> JSON text of every catalog schema."""
    out: dict[str, str] = {}
    for name, (model, glob) in SCHEMAS.items():
        doc: dict[str, Any] = model.model_json_schema()
        doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        doc["$comment"] = (
            f"generated from schemas.{model.__module__.split('.')[-1]}.{model.__name__}; applies to {glob}"
        )
        out[name] = json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return out


def write(folder: Path = SCHEMA_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in generate().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
