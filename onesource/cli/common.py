"""Shared CLI bits: consoles, the debug flag, catalog access."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

console = Console()
console_err = Console(stderr=True)


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
