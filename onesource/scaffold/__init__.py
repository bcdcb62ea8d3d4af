"""``onesource init``: a city's own catalog repository, from the template in ``city/``.

Template files named ``dot-<name>`` are written as ``.<name>`` (package data globs skip
hidden files); ``__CITY__`` and ``__HUB_VERSION__`` in text files are filled in.
"""

from __future__ import annotations

import json
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
    existing file is ever overwritten: it is kept and listed in ``Scaffold.kept``.
    """
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
    for src in sorted(TEMPLATE.rglob("*")):
        if src.is_dir() or "__pycache__" in src.parts:
            continue
        rel = _target_name(src.relative_to(TEMPLATE))
        dest = root / rel
        if dest.exists():
            done.kept.append(rel)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix in TEXT_SUFFIXES:
            text = src.read_text(encoding="utf-8")
            for key, value in values.items():
                text = text.replace(key, value)
            dest.write_text(text, encoding="utf-8")
        else:
            dest.write_bytes(src.read_bytes())
        dest.chmod(src.stat().st_mode & 0o777)
        done.written.append(rel)
    _sample_connection(done)
    return done


def _sample_connection(done: Scaffold) -> None:
    """``var/connections.json`` naming the sample drop by its absolute path (local state,
    ignored by git), so ``onesource run ingest`` works from the new folder at once."""
    rel = Path("var") / "connections.json"
    path = done.root / rel
    if path.exists():
        done.kept.append(rel)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = {SAMPLE_CONNECTION: {"conn_type": "file", "schema": str(done.root / SAMPLE_DROP)}}
    path.write_text(json.dumps(conn, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    done.written.append(rel)
