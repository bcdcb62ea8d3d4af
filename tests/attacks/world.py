"""The attack tests' world: a hub home on the repository's catalog, no release built."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.cli.harness import REPO


@contextmanager
def portal_home(path: Path) -> Iterator[Path]:
    """ONESOURCE_* set for a hub at ``path`` (SQLite, the repository's catalog)."""
    from onesource.web.deps import reset_caches

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONESOURCE_HOME", str(path))
        mp.setenv("ONESOURCE_CATALOG", str(REPO / "catalog"))
        mp.setenv("ONESOURCE_DB_URL", f"sqlite:///{path / 'onesource.db'}")
        mp.delenv("ONESOURCE_WAREHOUSE", raising=False)
        reset_caches()
        try:
            yield path
        finally:
            reset_caches()
