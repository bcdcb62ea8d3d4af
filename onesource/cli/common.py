"""Shared CLI bits: consoles, the debug flag, catalog access."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from rich.console import Console

console = Console()
console_err = Console(stderr=True)
# piped or captured output (scripts, CI, logs) keeps each line whole: no wrapping at 80 columns
for _c in (console, console_err):
    if not _c.is_terminal and "COLUMNS" not in os.environ:
        _c.width = 200


@dataclass
class _State:
    debug: bool = False


state = _State()


def catalog_root(root: Path | None) -> Path:
    from onesource.settings import get_settings

    return root or get_settings().catalog


def load_valid_catalog(root: Path | None = None):  # type: ignore[no-untyped-def]
    """The validated catalog, or a CatalogError listing every problem."""
    from onesource.catalog.loader import load_catalog

    return load_catalog(catalog_root(root)).raise_for_issues()


class Kind(StrEnum):
    """What a versioned subject is (``--kind``)."""

    resource = "resource"
    release = "release"
    base = "base"


class RunStatus(StrEnum):
    """A pipeline run's outcome (``--status``)."""

    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    rejected = "rejected"
    killed = "killed"


def known_subjects(kind: str) -> list[str]:
    """Names the catalog defines for ``kind`` (resource, release, base entity)."""
    from onesource.catalog.compiled import load_compiled
    from onesource.settings import get_settings

    catalog = load_compiled(get_settings().catalog)
    if kind == "release":
        return list(catalog.releases)
    if kind == "base":
        return sorted(catalog.entities())
    return list(catalog.resources)


def require_subject(kind: str, name: str) -> None:
    """Raise NotFoundError (exit 1) when the catalog has no ``kind`` named ``name``."""
    from schemas.errors import NotFoundError

    known = known_subjects(kind)
    if name not in known:
        raise NotFoundError("base entity" if kind == "base" else kind, name, known)


def run_server(config: object) -> None:
    """Run a ``uvicorn.Config`` until stopped; exit as the contract says.

    uvicorn shuts down gracefully on SIGINT/SIGTERM and then, under asyncio's runner,
    often just returns: without this a Ctrl+C'd server would exit 0.  A server stopped
    by a signal exits 128 + the signal (130 for Ctrl+C, 143 for SIGTERM); one that could
    not start (port busy) exits 1.
    """
    import signal

    import typer
    import uvicorn

    server = uvicorn.Server(config)  # type: ignore[arg-type]
    server.run()
    captured = list(getattr(server, "_captured_signals", []) or [])
    if captured:
        raise typer.Exit(128 + int(captured[-1]))
    if not server.started:
        raise typer.Exit(1)
    raise typer.Exit(128 + int(signal.SIGINT))  # stopped without a signal we saw: interrupted
