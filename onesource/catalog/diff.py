"""What changed in the catalog against a git revision."""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from schemas.catalog import Catalog
from schemas.errors import TerminalError


@dataclass(frozen=True)
class Change:
    kind: str  # added | removed | changed
    what: str  # resource | field | element | release | source
    name: str
    detail: str = ""

    def __str__(self) -> str:
        sign = {"added": "+", "removed": "-", "changed": "~"}[self.kind]
        return f"{sign} {self.what} {self.name}" + (f": {self.detail}" if self.detail else "")


def catalog_at(rev: str, root: Path) -> Catalog:
    """Load the catalog as it was at a git revision (into a temporary folder)."""
    from onesource.catalog.loader import load_catalog

    root = root.resolve()
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        rel = root.relative_to(top)
        blob = subprocess.run(
            ["git", "archive", "--format=tar", rev, "--", str(rel)],
            cwd=top,
            check=True,
            capture_output=True,
        ).stdout
    except (subprocess.CalledProcessError, ValueError, FileNotFoundError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        msg = err.decode(errors="replace").strip() if isinstance(err, bytes) else str(err)
        raise TerminalError(
            f"cannot read catalog at revision {rev!r}: {msg or exc}",
            hint="give a commit, branch or tag of this repository, e.g. HEAD~1",
        ) from None
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=BytesIO(blob)) as tar:
            tar.extractall(tmp, filter="data")
        return load_catalog(Path(tmp) / rel).catalog


def diff(old: Catalog, new: Catalog) -> list[Change]:
    out: list[Change] = []
    for name in sorted(set(old.resources) | set(new.resources)):
        a, b = old.resources.get(name), new.resources.get(name)
        if a is None:
            out.append(Change("added", "resource", name, b.title if b else ""))
            continue
        if b is None:
            out.append(Change("removed", "resource", name))
            continue
        for attr in ("share_class", "open_class", "update_cycle", "provider", "code"):
            va, vb = getattr(a, attr), getattr(b, attr)
            if va != vb:
                out.append(Change("changed", "resource", name, f"{attr} {va} -> {vb}"))
        for f in sorted(set(a.fields) | set(b.fields)):
            fa, fb = a.fields.get(f), b.fields.get(f)
            if fa is None:
                out.append(
                    Change("added", "field", f"{name}.{f}", fb.element or "local" if fb else "")
                )
            elif fb is None:
                out.append(Change("removed", "field", f"{name}.{f}"))
            elif fa != fb:
                changed = [k for k in type(fa).model_fields if getattr(fa, k) != getattr(fb, k)]
                out.append(
                    Change(
                        "changed",
                        "field",
                        f"{name}.{f}",
                        ", ".join(f"{k} {getattr(fa, k)} -> {getattr(fb, k)}" for k in changed),
                    )
                )
        for el in sorted(set(a.source_of) ^ set(b.source_of)):
            out.append(
                Change("added" if el in b.source_of else "removed", "source", f"{name} -> {el}")
            )
    for el_id in sorted(set(old.elements) | set(new.elements)):
        a_el, b_el = old.elements.get(el_id), new.elements.get(el_id)
        if a_el is None or b_el is None:
            out.append(Change("added" if a_el is None else "removed", "element", el_id))
        elif a_el.source != b_el.source or a_el.pii != b_el.pii or a_el.type != b_el.type:
            out.append(
                Change(
                    "changed",
                    "element",
                    el_id,
                    f"source {a_el.source} -> {b_el.source}, pii {a_el.pii} -> {b_el.pii}, type {a_el.type} -> {b_el.type}",
                )
            )
    for rel in sorted(set(old.releases) | set(new.releases)):
        ra, rb = old.releases.get(rel), new.releases.get(rel)
        if ra is None or rb is None:
            out.append(Change("added" if ra is None else "removed", "release", rel))
        elif ra != rb:
            out.append(Change("changed", "release", rel, "definition changed"))
    return out
