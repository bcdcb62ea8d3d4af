"""Open-data releases: de-identified products built from curated resources."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from schemas.base import ElementId, Entry, Model, Name, Text
from schemas.vocab import OpenClass, ReleaseKind, Technique, UpdateCycle


class BandsHierarchy(Model):
    """Numeric bands, e.g. ages 5 -> 10 -> 20 -> *."""

    type: Literal["bands"]
    widths: list[int] = Field(min_length=1)
    start: int = 0


class AgeHierarchy(Model):
    """Age computed from a birth date at the release date, then banded."""

    type: Literal["age"]
    widths: list[int] = Field(default_factory=lambda: [5, 10, 20], min_length=1)


DateLevel = Literal["month", "year"]
DATE_LEVELS: tuple[DateLevel, ...] = ("month", "year")


class DateHierarchy(Model):
    """Date -> month -> year."""

    type: Literal["date"]
    levels: list[DateLevel] = Field(default_factory=lambda: list(DATE_LEVELS))


class PrefixHierarchy(Model):
    """Keep a shorter prefix, e.g. division codes 6 -> 4 -> 2 digits."""

    type: Literal["prefix"]
    lengths: list[int] = Field(min_length=1)


class CodeListHierarchy(Model):
    """Climb the parent chain of a code list."""

    type: Literal["code_list"]
    code_list: Name


Hierarchy = Annotated[
    BandsHierarchy | AgeHierarchy | DateHierarchy | PrefixHierarchy | CodeListHierarchy,
    Field(discriminator="type"),
]


class ReleaseInput(Model):
    """A curated resource, or the golden records of an entity, read by a release."""

    resource: Name | None = None
    entity: Name | None = None
    join_on: list[str] = Field(default_factory=list, description="fields joined to the first input")

    @model_validator(mode="after")
    def _one(self) -> ReleaseInput:
        if (self.resource is None) == (self.entity is None):
            raise ValueError("give exactly one of 'resource' or 'entity'")
        return self

    @property
    def ref(self) -> str:
        return self.resource or self.entity or ""


class OpenException(Model):
    """A reasoned exception: a conditional field published as-is in an open release.

    ``catalog validate`` shows every exception as a notice; it never lifts
    ``none`` fields or negative-list elements.
    """

    reason: Text = Field(description="why this field may be opened as it is")
    basis: Text = Field(description="legal or policy basis, e.g. a regulation and article")


class ReleaseColumn(Model):
    source: str = Field(
        pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$", description="<input>.<field>"
    )
    technique: Technique
    hierarchy: Hierarchy | None = None
    level: int | Literal["auto"] | None = None
    bottom: float | None = None
    top: float | None = None
    title: str | None = None
    description: str | None = None
    quasi_exemption: Text | None = Field(
        None,
        description="why a column from a quasi-identifier element is not in quasi_identifiers "
        "(shown by catalog validate)",
    )
    open_exception: OpenException | None = Field(
        None, description="publish a conditional field unchanged in an open release, with reasons"
    )

    @model_validator(mode="after")
    def _technique_args(self) -> ReleaseColumn:
        if self.technique is Technique.generalize:
            if self.hierarchy is None:
                raise ValueError("[technique] 'generalize' needs a hierarchy")
            if self.level is None:
                raise ValueError(
                    "[technique] 'generalize' needs level: a number, or 'auto' for k-anonymity"
                )
        elif self.hierarchy is not None or self.level is not None:
            raise ValueError(
                f"hierarchy and level apply only to 'generalize', not {self.technique.value!r}"
            )
        if self.technique is Technique.top_bottom_code and self.top is None and self.bottom is None:
            raise ValueError("[technique] 'top_bottom_code' needs top, bottom or both")
        return self


class Measure(Model):
    function: Literal["count", "sum", "mean", "min", "max"]
    column: str | None = None

    @model_validator(mode="after")
    def _column(self) -> Measure:
        if self.function != "count" and self.column is None:
            raise ValueError(f"measure function {self.function!r} needs a column")
        return self


class Dominance(Model):
    """Which sum/mean cells are sensitive because one contributor dominates."""

    rule: Literal["p_percent", "nk"] = "p_percent"
    p: float = Field(10.0, gt=0, le=100, description="p% rule: protect each contributor to p%")
    n: int = Field(1, ge=1, le=10, description="(n,k) rule: the n largest contributors...")
    k: float = Field(75.0, gt=0, le=100, description="...may hold at most k% of the cell total")


class Aggregate(Model):
    group_by: list[str] = Field(min_length=1)
    measures: dict[Name, Measure] = Field(min_length=1)
    min_cell: int = Field(10, ge=1, description="cells counted below this are suppressed")
    zeros: Literal["sensitive", "public"] = Field(
        "sensitive",
        description="empty cells follow the small-cell rule unless declared public",
    )
    margins: bool = Field(False, description="also publish the totals (margins) rows")
    dominance: Dominance = Field(default_factory=Dominance)


class Release(Entry):
    name: Name
    title: Text
    title_en: Text
    summary: Text
    kind: ReleaseKind
    publisher: Name = Field(description="department code answering for the release")
    open_class: OpenClass
    open_condition: str | None = None
    update_cycle: UpdateCycle
    licence: Text = "CC-BY-4.0"
    theme: Name
    keywords: list[Text] = Field(default_factory=list)
    inputs: list[ReleaseInput] = Field(min_length=1)
    columns: dict[Name, ReleaseColumn] = Field(min_length=1)
    quasi_identifiers: list[str] = Field(default_factory=list)
    sensitive: list[str] = Field(default_factory=list)
    k: int | None = Field(None, ge=2, le=1000)
    l: int | None = Field(None, ge=2, le=100)  # noqa: E741 - l-diversity's own letter
    suppression_limit: float = Field(0.0, ge=0, le=0.5)
    aggregate: Aggregate | None = None
    links_with: list[Name] = Field(
        default_factory=list,
        description="releases whose pseudonyms may match this one's (both must declare it)",
    )

    @model_validator(mode="after")
    def _coherent(self) -> Release:
        problems: list[str] = []
        if self.open_class is OpenClass.closed:
            problems.append("[open_class] a release is published: use 'open' or 'restricted'")
        if self.open_class is OpenClass.restricted and not self.open_condition:
            problems.append("[open_class] 'restricted' needs open_condition")
        if self.kind is ReleaseKind.aggregate and self.aggregate is None:
            problems.append("[kind] 'aggregate' needs an aggregate section")
        if self.kind is not ReleaseKind.aggregate and self.aggregate is not None:
            problems.append(f"[aggregate] does not apply to kind {self.kind.value!r}")
        if self.quasi_identifiers and self.k is None:
            problems.append("[quasi_identifiers] need k")
        if self.l is not None and not self.sensitive:
            problems.append("[l] needs sensitive attributes")
        if self.name in self.links_with:
            problems.append("[links_with] a release cannot list itself")
        for name in self.quasi_identifiers:
            col = self.columns.get(name)
            if col is not None and col.quasi_exemption:
                problems.append(
                    f"[columns.{name}.quasi_exemption] {name!r} is a declared quasi-identifier; "
                    "drop the exemption"
                )
        for key in ("quasi_identifiers", "sensitive"):
            for name in getattr(self, key):
                if name not in self.columns:
                    problems.append(f"[{key}] {name!r} is not a column of this release")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def output_columns(self) -> list[str]:
        return [n for n, c in self.columns.items() if c.technique is not Technique.drop]


class NegativeEntry(Model):
    element: ElementId
    reason: Text
    legal_basis: Text


class NegativeList(Entry):
    entries: list[NegativeEntry] = Field(default_factory=list)
