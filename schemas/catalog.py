"""The whole catalog: every department, element, code list, resource and release.

``Catalog`` is plain data; the loader in ``onesource.catalog`` builds it from
YAML and ``schemas.rules`` checks it across files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from schemas.base import Model
from schemas.codes import CodeList
from schemas.department import Department
from schemas.element import Element
from schemas.release import NegativeList, Release
from schemas.resource import FieldSpec, Resource
from schemas.search import SearchSettings
from schemas.vocab import DataType, PiiClass


@dataclass(frozen=True)
class Issue:
    """One finding about the catalog: where, what, how to fix."""

    file: str
    path: tuple[str | int, ...]
    message: str
    hint: str | None = None
    code: str = "catalog-invalid"
    line: int | None = None
    column: int | None = None
    severity: str = "error"  # "error" fails validation; "notice" is shown (reasoned exceptions)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def where(self) -> str:
        pos = f":{self.line}:{self.column}" if self.line is not None else ""
        return f"{self.file}{pos}"

    @property
    def dotted(self) -> str:
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out

    def __str__(self) -> str:
        text = f"{self.where}: " + ("" if self.is_error else f"{self.severity}: ")
        if self.path:
            text += f"{self.dotted}: "
        text += self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class Catalog(Model):
    """Validated catalog content keyed by id, with the file each object came from."""

    departments: dict[str, Department] = Field(default_factory=dict)
    elements: dict[str, Element] = Field(default_factory=dict)
    code_lists: dict[str, CodeList] = Field(default_factory=dict)
    resources: dict[str, Resource] = Field(default_factory=dict)
    releases: dict[str, Release] = Field(default_factory=dict)
    negative_list: NegativeList = Field(default_factory=NegativeList)
    search: SearchSettings = Field(default_factory=SearchSettings)
    origins: dict[str, str] = Field(default_factory=dict, description="'kind:name' -> file")

    def origin(self, kind: str, name: str) -> str:
        return self.origins.get(f"{kind}:{name}", "catalog")

    def field_element(self, field: FieldSpec) -> Element | None:
        return self.elements.get(field.element) if field.element else None

    def field_type(self, field: FieldSpec) -> DataType:
        element = self.field_element(field)
        if element is not None:
            return element.type
        assert field.type is not None  # local fields always have one (model rule)
        return field.type

    def field_pii(self, field: FieldSpec) -> PiiClass | None:
        """PII class of a column; ``None`` means unclassified."""
        if field.pii is not None:
            return field.pii
        element = self.field_element(field)
        return element.pii if element is not None else None

    def source_resource(self, element_id: str) -> Resource | None:
        """The resource that is the authoritative source of an element."""
        for resource in self.resources.values():
            if element_id in resource.source_of:
                return resource
        return None

    def entities(self) -> set[str]:
        return {e.entity for e in self.elements.values()}


@dataclass
class Findings:
    """Collects rule findings; drops those caused only by a file that failed to load."""

    broken: Any = None
    issues: list[Issue] = field(default_factory=list)

    def add(
        self,
        file: str,
        path: tuple[str | int, ...],
        message: str,
        hint: str | None = None,
        code: str = "catalog-invalid",
        *,
        subject: str = "",
        severity: str = "error",
    ) -> None:
        b = self.broken
        if b is not None and (
            (code == "unknown-department" and b.skip_department(subject))
            or (code == "unknown-code-list" and b.skip_code_list(subject))
            or (code == "unknown-element" and b.skip_element(subject))
            or (code == "unknown-resource" and subject in b.resources)
            or (code == "no-source" and subject in b.resource_departments)
        ):
            return
        self.issues.append(Issue(file, path, message, hint, code, severity=severity))
