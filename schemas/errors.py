"""One exception root for the whole hub.

Every error carries a stable kebab-case ``code``.  ``TransientError`` marks
what a scheduler may retry (a dead source database, a timeout, a 5xx);
everything else is terminal.  Findings (quality, lint, anonymization risk)
are results, not exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence


class OneSourceError(Exception):
    """Root of every error the hub raises on purpose."""

    code = "onesource-error"
    transient = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def __reduce__(self) -> tuple[object, ...]:
        # survive process boundaries (the fork pool, Airflow task results) whatever the
        # subclass's __init__ signature: rebuild from args and attributes, not __init__
        return (_restore, (type(self), self.args, dict(self.__dict__)))


def _restore(
    cls: type[OneSourceError], args: tuple[object, ...], state: dict[str, object]
) -> OneSourceError:
    err = cls.__new__(cls, *args)
    err.args = args
    err.__dict__.update(state)
    return err


class TransientError(OneSourceError):
    """A failure that may go away on retry (network, locks, 5xx)."""

    code = "transient"
    transient = True


class TerminalError(OneSourceError):
    """A failure that retrying will not fix (bad config, 4xx, schema drift)."""

    code = "terminal"


class CatalogError(TerminalError):
    """The catalog is invalid; ``issues`` holds every finding."""

    code = "catalog-invalid"

    def __init__(self, issues: Sequence[object], message: str | None = None) -> None:
        self.issues = list(issues)
        text = message or "\n".join(str(i) for i in issues)
        super().__init__(text)


class NotFoundError(TerminalError):
    """A named thing (resource, version, release, department) does not exist."""

    code = "not-found"

    def __init__(self, kind: str, name: str, known: list[str] | None = None) -> None:
        hint = None
        if known is not None:
            shown = ", ".join(sorted(known)[:20]) or "none"
            hint = f"known {kind}s: {shown}"
        super().__init__(f"unknown {kind} {name!r}", hint=hint)
        self.kind = kind
        self.name = name


class SourceUnavailableError(TransientError):
    """A department's source could not be reached."""

    code = "source-unavailable"


class SchemaDriftError(TerminalError):
    """The source's columns no longer match the catalog."""

    code = "schema-drift"


class ConfigError(TerminalError):
    """Settings, connections or secrets are missing or wrong."""

    code = "config-invalid"
