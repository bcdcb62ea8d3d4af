"""Errors raised by the store, each with a stable kebab-case ``code``."""

from __future__ import annotations

from schemas.errors import TerminalError, TransientError


class StoreError(TerminalError):
    """Root of the store's own terminal errors."""

    code = "store-error"


class VersionNotFoundError(StoreError):
    """A subject has no such version (or no version at all)."""

    code = "version-not-found"

    def __init__(self, kind: str, subject: str, number: int | None, known: list[int]) -> None:
        what = f"version {number}" if number is not None else "a current version"
        shown = ", ".join(str(n) for n in known) or "none"
        super().__init__(
            f"{kind} {subject!r} has no {what}",
            hint=f"known versions: {shown}",
        )
        self.kind = kind
        self.subject = subject
        self.number = number


class RunStateError(StoreError):
    """A run is unknown or not in the state an operation needs."""

    code = "run-state-invalid"


class WriterSchemaError(StoreError):
    """A batch handed to a writer does not match the writer's schema."""

    code = "writer-schema-mismatch"


class CommitConflictError(TransientError):
    """Concurrent commits kept taking the next version number; retrying later may work."""

    code = "version-commit-conflict"


class StaleBaseError(CommitConflictError):
    """A version built on an older current version; rebuild it on the new one and retry."""

    code = "version-base-stale"

    def __init__(self, kind: str, subject: str, base: int | None, current: int | None) -> None:
        super().__init__(
            f"{kind} {subject!r}: the new version was built on version {base}, "
            f"but version {current} is current now",
            hint="rebuild the version on the current one (the pipeline does this itself)",
        )
        self.base = base
        self.current = current


class StoreBusyError(TransientError):
    """Every pooled metadata DB connection stayed busy for the pool timeout (answered 503)."""

    code = "metadata-db-busy"

    def __init__(self, timeout: float) -> None:
        super().__init__(
            f"the hub is busy: no metadata DB connection came free within {timeout:g} s"
            if timeout
            else "the hub is busy: every metadata DB connection is in use",
            hint="try again in a second",
        )
        self.timeout = timeout
