"""Bounds on what a file reader accepts, and the header check that runs before any row.

A hostile or broken file must fail fast with a clear error naming the file,
the line and the limit, never keep a worker busy: a header is checked (column
count, name length, duplicates) from the first bytes of the file before any
row is parsed, and every line and field is bounded.  Defaults are generous;
operators change them with environment variables:

| variable | default | what |
|---|---|---|
| ``ONESOURCE_READ_MAX_COLUMNS`` | 1000 | columns in a header |
| ``ONESOURCE_READ_MAX_NAME_CHARS`` | 200 | characters of one header name |
| ``ONESOURCE_READ_MAX_HEADER_BYTES`` | 262144 | bytes of the header line |
| ``ONESOURCE_READ_MAX_LINE_BYTES`` | 4194304 | bytes of one line (CSV record, JSON line) |
| ``ONESOURCE_READ_MAX_FIELD_CHARS`` | 1048576 | characters of one CSV field |
| ``ONESOURCE_READ_MAX_ROWS`` | unlimited | rows of one file (pushes: see the exchange settings) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from schemas.errors import SchemaDriftError, TerminalError

ENV_PREFIX = "ONESOURCE_READ_"


class MalformedHeaderError(SchemaDriftError):
    """A file's header cannot be read as one name per column (duplicates, too many, too long)."""

    code = "header-malformed"


class MalformedCsvError(SchemaDriftError):
    """A CSV record cannot be parsed (a quote left open, a stray newline in a header)."""

    code = "csv-malformed"


class ReadLimitError(TerminalError):
    """A file exceeds a configured size limit (rows, columns, bytes); ``limit`` names it."""

    code = "read-limit-exceeded"

    def __init__(self, message: str, *, limit: str, value: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or f"the limit is set by {ENV_PREFIX}{limit.upper()}")
        self.limit = limit
        self.value = value


def _env_int(name: str, default: int | None) -> int | None:
    raw = os.environ.get(ENV_PREFIX + name.upper())
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TerminalError(
            f"{ENV_PREFIX}{name.upper()}={raw!r} is not a whole number",
            hint="set it to a positive integer, or unset it for the default",
        ) from None
    return value if value > 0 else None


@dataclass(frozen=True)
class ReadLimits:
    """What one file may hold; ``from_env()`` applies the operator's settings."""

    max_columns: int = 1000
    max_name_chars: int = 200
    max_header_bytes: int = 256 << 10
    max_line_bytes: int = 4 << 20
    max_field_chars: int = 1 << 20
    max_rows: int | None = None

    @classmethod
    def from_env(cls, **overrides: int | None) -> ReadLimits:
        """Defaults, then ``ONESOURCE_READ_*`` variables, then ``overrides`` (when not None)."""
        base = cls()
        values = {name: _env_int(name, getattr(base, name)) for name in cls.__dataclass_fields__}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def clean_name(name: str) -> str:
    """A header name without surrounding blanks and byte-order marks."""
    return name.strip().lstrip("\ufeff").strip()


def check_header_names(
    headers: list[str], source: str, limits: ReadLimits, columns: Mapping[str, str]
) -> list[str]:
    """Field names for ``headers``, or ``MalformedHeaderError`` naming the problem.

    Linear in the header size.  Empty names become ``column_<n>``; a name
    repeated (after the connector's ``columns:`` renaming) is refused, since
    nobody can tell which of the two columns holds the field.
    """
    if len(headers) > limits.max_columns:
        raise ReadLimitError(
            f"{source}: the header has {len(headers):,} columns, more than the limit of "
            f"{limits.max_columns:,}",
            limit="max_columns",
            value=limits.max_columns,
        )
    out: list[str] = []
    first: dict[str, int] = {}
    repeated: dict[str, list[int]] = {}
    for i, raw in enumerate(headers, start=1):
        if len(raw) > limits.max_name_chars:
            raise MalformedHeaderError(
                f"{source}: header column {i} is {len(raw):,} characters long, more than the "
                f"limit of {limits.max_name_chars} (starts {raw[:40]!r})",
                hint=f"fix the file's header; the limit is {ENV_PREFIX}MAX_NAME_CHARS",
            )
        clean = clean_name(raw)
        name = columns.get(clean, clean) if clean else f"column_{i}"
        if name in first:
            repeated.setdefault(name, [first[name]]).append(i)
        else:
            first[name] = i
        out.append(name)
    if repeated:
        shown = "; ".join(
            f"{name!r} in columns {', '.join(map(str, cols[:5]))}"
            + (f" and {len(cols) - 5} more" if len(cols) > 5 else "")
            for name, cols in list(repeated.items())[:5]
        )
        raise MalformedHeaderError(
            f"{source}: repeated header names: {shown}",
            hint="give every column its own name (or drop the copies) and send the file again",
        )
    return out
