"""Resources (信息资源): one department dataset with its catalogue metadata."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator, model_validator

from schemas.base import ElementId, Entry, Model, Name, Text
from schemas.connector import ConnectorSpec
from schemas.quality import Quality
from schemas.vocab import (
    BaseSubject,
    DataType,
    Domain,
    FormatCategory,
    OpenClass,
    PiiClass,
    ResourceCategory,
    ShareClass,
    ShareMethod,
    UpdateCycle,
)

_CATEGORY_DIGIT = {
    ResourceCategory.base: "1",
    ResourceCategory.theme: "2",
    ResourceCategory.department: "3",
}


class Classification(Model):
    """类/项/目/细目: category, subject and the numeric classification code."""

    category: ResourceCategory
    subject: Name = Field(description="项: for base resources one of population, legal_entity, ...")
    code: str = Field(pattern=r"^[1-3](\d{2}){1,3}$", description="e.g. 101 = base / population")

    @model_validator(mode="after")
    def _coherent(self) -> Classification:
        digit = _CATEGORY_DIGIT[self.category]
        if not self.code.startswith(digit):
            raise ValueError(
                f"[code] classification code {self.code!r} must start with {digit} for category {self.category.value!r}"
            )
        if self.category is ResourceCategory.base and self.subject not in BaseSubject.__members__:
            known = ", ".join(BaseSubject.__members__)
            raise ValueError(f"[subject] base subject {self.subject!r} is not one of: {known}")
        return self


class Contact(Model):
    name: Text
    email: str | None = None
    phone: str | None = None


class FieldSpec(Model):
    """A column: either mapped to an element, or a local field fully described."""

    element: ElementId | None = None
    type: DataType | None = None
    name: str | None = Field(None, description="Chinese name of a local field")
    name_en: str | None = None
    description: str | None = None
    pii: PiiClass | None = Field(None, description="left out = unclassified: never releasable")
    length: int | None = Field(None, ge=1)
    pattern: str | None = None
    code_list: Name | None = None
    domain: Domain | None = None
    required: bool = False
    unique: bool = False
    share_class: ShareClass | None = Field(None, description="overrides the resource's share class")

    @model_validator(mode="after")
    def _described(self) -> FieldSpec:
        if self.element is None:
            missing = [k for k in ("type", "name", "description") if getattr(self, k) is None]
            if missing:
                raise ValueError(
                    "a field without 'element' is a local field and needs "
                    + ", ".join(repr(m) for m in missing)
                )
        return self

    @property
    def is_local(self) -> bool:
        return self.element is None


class Resource(Entry):
    name: Name = Field(description="unique id of the resource; equals the file name")
    title: Text = Field(description="信息资源名称")
    title_en: Text
    provider: Name = Field(description="department code; equals the folder name")
    classification: Classification
    code: str = Field(description="信息资源代码: classification code / 6-digit sequence")
    summary: Text
    keywords: list[Text] = Field(default_factory=list)
    format_category: FormatCategory
    format: Text = Field(description="e.g. table, csv, xlsx, json")
    update_cycle: UpdateCycle
    issued: dt.date = Field(description="发布日期, YYYY-MM-DD")
    share_class: ShareClass
    share_condition: str | None = None
    share_basis: str | None = Field(None, description="legal basis for conditional or no sharing")
    share_method: ShareMethod
    open_class: OpenClass
    open_condition: str | None = None
    contact: Contact | None = None
    related: list[str] = Field(default_factory=list, description="related resource codes")
    connector: ConnectorSpec
    primary_key: list[str] = Field(min_length=1)
    fields: dict[str, FieldSpec] = Field(min_length=1)
    source_of: list[ElementId] = Field(
        default_factory=list, description="elements this resource is the authoritative source of"
    )
    quality: Quality = Field(default_factory=Quality)

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        for key in value:
            if not key.isidentifier() or key != key.lower():
                raise ValueError(
                    f"field name {key!r}: use lowercase letters, digits and underscores"
                )
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Resource:
        problems: list[str] = []
        prefix = self.classification.code + "/"
        if not self.code.startswith(prefix) or not (
            len(self.code) == len(prefix) + 6 and self.code[len(prefix) :].isdigit()
        ):
            problems.append(
                f"[code] {self.code!r} must be the classification code and a 6-digit sequence, e.g. {prefix}000001"
            )
        if self.share_class is ShareClass.conditional and not (
            self.share_condition and self.share_basis
        ):
            missing = [k for k in ("share_condition", "share_basis") if not getattr(self, k)]
            problems.append(f"[share_class] 'conditional' sharing needs {' and '.join(missing)}")
        if self.share_class is ShareClass.none and not self.share_basis:
            problems.append("[share_class] 'none' needs share_basis (the legal or policy basis)")
        if self.open_class is OpenClass.restricted and not self.open_condition:
            problems.append("[open_class] 'restricted' needs open_condition")
        for key in self.primary_key:
            if key not in self.fields:
                problems.append(f"[primary_key] names {key!r}, which is not in fields")
        if len(set(self.source_of)) != len(self.source_of):
            problems.append("[source_of] lists an element twice")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def effective_share(self, field: str) -> ShareClass:
        spec = self.fields[field]
        return spec.share_class if spec.share_class is not None else self.share_class
