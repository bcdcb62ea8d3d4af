"""Shared base for catalog models: strict keys, snake_case, no aliases."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints


class Model(BaseModel):
    """Every catalog model forbids unknown keys, so typos surface as errors."""

    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=True)


class Entry(Model):
    """A top-level catalog object (department, element, resource, ...)."""


def _code(value: Any) -> Any:
    # YAML turns unquoted 1, 10, 330102 into ints; codes are strings.
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


Code = Annotated[str, BeforeValidator(_code), StringConstraints(min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
ElementId = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$", max_length=96)
]
Text = Annotated[str, StringConstraints(min_length=1)]
ConnectionId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]

NAME_HINT = "use lowercase letters, digits and underscores, starting with a letter"
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


def is_name(value: str) -> bool:
    return bool(_SNAKE.match(value))
