"""Quality rules declared per resource (beyond what fields imply)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from schemas.base import Code, Model, Name
from schemas.vocab import Domain, Severity


class RuleBase(Model):
    name: Name | None = None
    severity: Severity = Severity.blocking
    description: str | None = None


class NotNullRule(RuleBase):
    check: Literal["not_null"]
    field: str


class UniqueRule(RuleBase):
    check: Literal["unique"]
    fields: list[str] = Field(min_length=1)


class PatternRule(RuleBase):
    check: Literal["pattern"]
    field: str
    pattern: str


class InSetRule(RuleBase):
    check: Literal["in_set"]
    field: str
    values: list[Code] | None = None
    code_list: Name | None = None

    @model_validator(mode="after")
    def _one_source(self) -> InSetRule:
        if (self.values is None) == (self.code_list is None):
            raise ValueError("give exactly one of 'values' or 'code_list'")
        return self


class RangeRule(RuleBase):
    check: Literal["range"]
    field: str
    min: float | str | None = None
    max: float | str | None = None

    @model_validator(mode="after")
    def _bounded(self) -> RangeRule:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        return self


class LengthRule(RuleBase):
    check: Literal["length"]
    field: str
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=1)


class DomainRule(RuleBase):
    check: Literal["domain"]
    field: str
    domain: Domain


Rule = Annotated[
    NotNullRule | UniqueRule | PatternRule | InSetRule | RangeRule | LengthRule | DomainRule,
    Field(discriminator="check"),
]


class RowCountChange(Model):
    """Bounds on the change in row count against the previous version."""

    max_drop: float = Field(0.5, ge=0, le=1, description="fraction; 0.2 = at most 20% fewer rows")
    max_growth: float = Field(10.0, ge=0, description="fraction; 1.0 = at most twice as many rows")


class Quality(Model):
    rejection_threshold: float = Field(
        0.05, ge=0, le=1, description="reject the whole batch above this share of failing rows"
    )
    row_count_change: RowCountChange | None = None
    freshness_field: str | None = Field(
        None, description="datetime field checked against the update cycle"
    )
    rules: list[Rule] = Field(default_factory=list)
