"""Departments (提供方): who provides and answers for data."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from schemas.base import Entry, Model, Name, Text
from schemas.identifiers import credit_check_char, credit_code_valid


class Steward(Model):
    name: Text
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    phone: str | None = None
    role: str | None = None


class Department(Entry):
    """A city department; ``code`` is the short id used everywhere in the catalog."""

    code: Name
    name: Text = Field(description="Chinese name, e.g. 市公安局")
    name_en: Text
    credit_code: Annotated[str, StringConstraints(min_length=18, max_length=18)] = Field(
        description="unified social credit code of the department (GB 32100)"
    )
    stewards: list[Steward] = Field(min_length=1)
    description: str | None = None

    @field_validator("credit_code")
    @classmethod
    def _check_credit_code(cls, value: str) -> str:
        if not credit_code_valid(value):
            if len(value) == 18 and value[:17].isalnum():
                try:
                    expected = credit_check_char(value[:17])
                except ValueError:
                    expected = None
                if expected is not None:
                    raise ValueError(
                        f"credit code {value!r} fails its check character (expected {expected!r} at position 18)"
                    )
            raise ValueError(
                f"credit code {value!r} is not a unified social credit code "
                "(18 characters from 0-9 and ABCDEFGHJKLMNPQRTUWXY)"
            )
        return value


class DepartmentsFile(Model):
    departments: list[Department] = Field(min_length=1)
