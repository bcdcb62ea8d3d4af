"""Code lists (代码表): sex, marital status, divisions, ..."""

from __future__ import annotations

from pydantic import Field, model_validator

from schemas.base import Code, Entry, Model, Name, Text


class CodeValue(Model):
    code: Code
    label: Text
    label_en: str | None = None
    parent: Code | None = Field(None, description="code of the parent value, for hierarchies")


class CodeList(Entry):
    name: Name
    title: Text
    title_en: str | None = None
    standard: str | None = Field(None, description="e.g. GB/T 2261.1-2003")
    values: list[CodeValue] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_codes(self) -> CodeList:
        seen: set[str] = set()
        for v in self.values:
            if v.code in seen:
                raise ValueError(f"code {v.code!r} appears twice in code list {self.name!r}")
            seen.add(v.code)
        for v in self.values:
            if v.parent is not None and v.parent not in seen:
                raise ValueError(
                    f"code {v.code!r} names parent {v.parent!r}, which is not in the list"
                )
        return self

    @property
    def codes(self) -> list[str]:
        return [v.code for v in self.values]
