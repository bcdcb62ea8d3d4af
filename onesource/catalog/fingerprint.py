"""The catalog's fingerprint: any edit, added or removed file gives a new one.

Kept apart from the loader (no pydantic, no YAML): DAG files compute it on every parse.
"""

from __future__ import annotations

import os
from hashlib import sha1
from pathlib import Path


def fingerprint(root: Path) -> str:
    """The folder, and the relative path, size and mtime of every catalog file (dot-files and
    folders skipped): a copy of a catalog elsewhere (``cp -p``) is another catalog, with its
    own compiled snapshot and last-valid record."""
    entries: list[str] = [f"root\0{os.path.realpath(root)}"]
    stack = [str(root)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    stack.append(entry.path)
                elif entry.is_file():
                    st = entry.stat()
                    rel = os.path.relpath(entry.path, root)
                    entries.append(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}")
    entries.sort()
    return sha1("\n".join(entries).encode(), usedforsecurity=False).hexdigest()[:16]
