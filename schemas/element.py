"""Data elements (信息项): the shared vocabulary of the catalog.

Each element has exactly ONE source department (一数一源).
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from schemas.base import ElementId, Entry, Model, Name, Text
from schemas.vocab import DataType, Domain, PiiClass


class Element(Entry):
    id: ElementId = Field(description="entity.item, e.g. person.id_number")
    name: Text = Field(description="Chinese name, e.g. 公民身份号码")
    name_en: Text
    type: DataType
    length: int | None = Field(None, ge=1, le=100_000)
    precision: int | None = Field(None, ge=1, le=38)
    scale: int | None = Field(None, ge=0, le=38)
    pattern: str | None = None
    code_list: Name | None = None
    domain: Domain | None = None
    pii: PiiClass
    source: Name = Field(description="the ONE department that collects and answers for it")
    description: Text
    unit: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(
                    f"pattern {value!r} is not a valid regular expression: {exc}"
                ) from None
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Element:
        if self.scale is not None and self.precision is not None and self.scale > self.precision:
            raise ValueError(f"scale {self.scale} is larger than precision {self.precision}")
        if self.length is not None and self.type not in (DataType.C, DataType.M, DataType.G):
            raise ValueError(f"length applies to types C, M and G, not {self.type.value}")
        return self

    @property
    def entity(self) -> str:
        return self.id.split(".", 1)[0]


class ElementsFile(Model):
    elements: list[Element] = Field(min_length=1)
