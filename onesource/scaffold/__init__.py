"""``onesource init``: a city's own catalog repository, from the template in ``city/``.

Template files named ``dot-<name>`` are written as ``.<name>`` (package data globs skip
hidden files); ``__CITY__`` and ``__HUB_VERSION__`` in text files are filled in.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from schemas.errors import ConfigError

TEMPLATE = Path(__file__).resolve().parent / "city"
TEXT_SUFFIXES = {".md", ".yml", ".yaml", ".py", ".sh", ""}
SAMPLE_CONNECTION = "dsj_drop"
SAMPLE_DROP = Path("drops") / "dsj"


@dataclass
class Scaffold:
    """What ``create`` wrote, and what it kept because the file already existed."""

    root: Path
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def hub_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("onesource-hub")
    except PackageNotFoundError:  # a checkout on sys.path without installing
        return "0.1.0"


def _target_name(rel: Path) -> Path:
    return Path(*(p.replace("dot-", ".", 1) if p.startswith("dot-") else p for p in rel.parts))


def create(root: Path, *, city: str | None = None, force: bool = False) -> Scaffold:
    """Write the skeleton into ``root``.

    A non-empty ``root`` is refused (``ConfigError``) unless ``force``; even then no
    existing file is ever overwritten: it is kept and listed in ``Scaffold.kept``.  A
    symbolic link in ``root`` is never followed (it could point anywhere): it and what
    would be written through it are kept too.
    """
    if city is not None and any(not c.isprintable() for c in city):
        raise ConfigError(
            f"--city {city[:60]!r} holds a line break or another control character",
            hint="give the city's name on one line",
        )
    root = root.resolve()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is a file, not a folder", hint="choose a new folder name")
    if root.is_dir() and any(root.iterdir()) and not force:
        entries = sorted(p.name for p in root.iterdir())
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise ConfigError(
            f"{root} is not empty ({len(entries)} entries: {shown})",
            hint="choose a new folder, or add --force to add the skeleton's files "
            "beside what is there (existing files are never overwritten)",
        )
    values = {"__CITY__": city or root.name, "__HUB_VERSION__": hub_version()}
    done = Scaffold(root)
    root.mkdir(parents=True, exist_ok=True)
    for src in sorted(TEMPLATE.rglob("*")):
        if src.is_dir() or "__pycache__" in src.parts:
            continue
        rel = _target_name(src.relative_to(TEMPLATE))
        if src.suffix in TEXT_SUFFIXES:
            text = src.read_text(encoding="utf-8")
            for key, value in values.items():
                text = text.replace(key, value)
            data = text.encode()
        else:
            data = src.read_bytes()
        _write_new(done, rel, data, src.stat().st_mode & 0o777)
    _sample_connection(done)
    return done


def _sample_connection(done: Scaffold) -> None:
    """``var/connections.json`` naming the sample drop by its absolute path (local state,
    ignored by git), so ``onesource run ingest`` works from the new folder at once."""
    rel = Path("var") / "connections.json"
    conn = {SAMPLE_CONNECTION: {"conn_type": "file", "schema": str(done.root / SAMPLE_DROP)}}
    text = json.dumps(conn, ensure_ascii=False, indent=2) + "\n"
    _write_new(done, rel, text.encode(), 0o644)


def _write_new(done: Scaffold, rel: Path, data: bytes, mode: int) -> None:
    """Create ``root/rel`` unless it, or a folder on the way, exists as a file or a link.

    Folders are made one by one, never through a symbolic link; the file is created with
    ``O_EXCL`` (which fails on any existing entry, a dangling link included).
    """
    folder = done.root
    for part in rel.parts[:-1]:
        folder = folder / part
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            done.kept.append(rel)
            return
        folder.mkdir(exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(done.root / rel, flags, mode)
    except FileExistsError:
        done.kept.append(rel)
        return
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        os.fchmod(fh.fileno(), mode)  # the template's mode, whatever the umask
    done.written.append(rel)
