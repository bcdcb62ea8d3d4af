"""The hub's distribution installs three top-level packages: ``onesource``, ``schemas``
and ``connectors`` (docs/adr/0004-top-level-packages.md).  ``schemas`` and ``connectors``
are common names: another distribution may install a package of the same name over ours
(pip does not refuse), or one earlier on ``sys.path`` may shadow ours.  Either way the hub
must stop with one clear message instead of failing later on a missing attribute.
"""

from __future__ import annotations

import importlib
from pathlib import Path

DISTRIBUTION = "onesource-hub"
SIBLINGS = ("schemas", "connectors")


def check_top_level_packages() -> None:
    """Raise ``ImportError`` unless ``schemas`` and ``connectors`` are the hub's own,
    installed beside ``onesource`` and marked ``__distribution__ = "onesource-hub"``."""
    home = Path(__file__).resolve().parent.parent
    for name in SIBLINGS:
        module = importlib.import_module(name)
        where = Path(module.__file__ or f"<namespace package {name}>").resolve()
        if (
            getattr(module, "__distribution__", None) == DISTRIBUTION
            and where.parent.parent == home
        ):
            continue
        raise ImportError(
            f"the top-level package {name!r} at {where} is not OneSource's (expected "
            f"{home / name}, marked __distribution__ = {DISTRIBUTION!r}): another "
            f"distribution installed or placed a {name!r} package that shadows or replaced "
            f"ours. Install onesource-hub in a virtualenv of its own, or remove the other "
            f"package (see docs/adr/0004-top-level-packages.md)",
            name=name,
        )
