"""Reading a backup archive: every byte checked against the signed manifest.

An archive is refused, before anything is written to the target, when: it is not a
readable tar (or is truncated: a member or the compressed stream ends early), its
manifest's signature does not verify with the trusted audit public key, a member's
size or SHA-256 differs from the manifest, a member is missing, unexpected, repeated or
not a plain file, or a name could escape the extraction folder.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
import zlib
from pathlib import Path
from typing import IO, Any

from onesource.ops.manifest import MANIFEST, SIGNATURE, BackupError, Manifest

_SAFE = re.compile(r"^(db|audit|data)/[^\x00-\x1f\\]+$")
_DAMAGED = (tarfile.TarError, EOFError, OSError, zlib.error)
_HEAD_LIMIT = {MANIFEST: 256 << 20, SIGNATURE: 4096}  # bytes read into memory at most
# tarfile reads a long-name or pax header whole into memory (and an old GNU sparse map
# entry by entry) while it opens the archive: ours are a few hundred bytes and never sparse
_HEADER_LIMIT = 1 << 20
_HEADER_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)


class _BoundedInfo(tarfile.TarInfo):
    """A member header that refuses, before tarfile reads it, what only a bomb declares."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _HEADER_TYPES and self.size > _HEADER_LIMIT:
            raise BackupError(
                f"the archive has a tar header of {self.size:,} bytes (a backup's are a few "
                "hundred): refused before reading it",
                hint="it was not made by onesource backup; nothing was restored",
            )
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise BackupError(
                "the archive has a sparse member header (backups have none)",
                hint="it was not made by onesource backup; nothing was restored",
            )
        return super()._proc_member(tar)  # type: ignore[misc,no-any-return]


def safe_member(name: str) -> bool:
    """A relative name under db/, audit/ or data/ with no ``..`` or empty segment."""
    return bool(_SAFE.match(name)) and all(p not in ("", ".", "..") for p in name.split("/"))


def _open(src: Path) -> tarfile.TarFile:
    if not src.is_file():
        raise BackupError(f"{src} does not exist or is not a file")
    try:
        return tarfile.open(src, "r:*", tarinfo=_BoundedInfo)
    except _DAMAGED as exc:
        raise BackupError(
            f"{src} is not a readable backup archive ({exc})",
            hint="it is damaged or truncated; use another copy",
        ) from exc


def _damaged(src: Path, exc: BaseException) -> BackupError:
    return BackupError(
        f"{src} is truncated or damaged ({type(exc).__name__}: {exc})",
        hint="nothing was restored; use an untouched copy of the archive",
    )


def _altered(src: Path, name: str) -> BackupError:
    return BackupError(
        f"{src}: {name} does not match the manifest's checksum (altered or damaged)",
        hint="nothing was restored; use an untouched copy of the archive",
    )


def read_head(src: Path) -> tuple[bytes, bytes]:
    """The manifest's bytes (not yet trusted: not parsed here) and the signature, the first
    two members; ``parse_manifest`` once the signature verified."""
    with _open(src) as tar:
        try:
            found: dict[str, bytes] = {}
            for _ in range(2):
                member = tar.next()
                if member is None or member.name not in (MANIFEST, SIGNATURE):
                    break
                if not member.isfile() or member.size > _HEAD_LIMIT[member.name]:
                    break  # an absurd size is not ours: refused below without reading it
                fh = tar.extractfile(member)
                assert fh is not None
                found[member.name] = fh.read()
        except _DAMAGED as exc:
            raise _damaged(src, exc) from exc
    if set(found) != {MANIFEST, SIGNATURE}:
        raise BackupError(
            f"{src} does not begin with {MANIFEST} and {SIGNATURE}",
            hint="it was not made by onesource backup, or is damaged",
        )
    return found[MANIFEST], found[SIGNATURE]


def parse_manifest(body: bytes) -> Manifest:
    """The manifest of bytes whose signature verified; member names checked once more."""
    manifest = Manifest.from_bytes(body)
    unsafe = [name for name in manifest.files if not safe_member(name)]
    unsafe += [v["path"] for v in manifest.versions if not safe_member(f"data/{v['path']}/f")]
    if unsafe:
        raise BackupError(f"the manifest names unsafe paths: {', '.join(unsafe[:5])}")
    return manifest


def _hash_to(fh: IO[bytes], out: IO[bytes] | None) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        h.update(chunk)
        size += len(chunk)
        if out is not None:
            out.write(chunk)
    return h.hexdigest(), size


def check_members(src: Path, manifest: Manifest, extract_to: Path | None = None) -> None:
    """Read every member, match it with the manifest, optionally extract it; raise on any fault."""
    seen: set[str] = set()
    with _open(src) as tar:
        try:
            for member in tar:
                name = member.name
                if name in (MANIFEST, SIGNATURE) and name not in seen:
                    seen.add(name)
                    continue
                expected: dict[str, Any] | None = manifest.files.get(name)
                if expected is None or name in seen or not member.isfile():
                    raise BackupError(
                        f"{src}: member {name!r} is not in the signed manifest (or repeated, or "
                        "not a plain file): the archive was altered",
                        hint="nothing was restored; use an untouched copy",
                    )
                seen.add(name)
                if member.size != expected["size"]:  # refused before reading a byte of it
                    raise _altered(src, name)
                fh = tar.extractfile(member)
                assert fh is not None
                if extract_to is None:
                    digest, size = _hash_to(fh, None)
                else:
                    target = extract_to / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with target.open("wb") as out:
                        digest, size = _hash_to(fh, out)
                if digest != expected["sha256"] or size != expected["size"]:
                    raise _altered(src, name)
        except _DAMAGED as exc:
            raise _damaged(src, exc) from exc
    missing = sorted(set(manifest.files) - seen)
    if missing:
        raise BackupError(
            f"{src} is incomplete: {len(missing)} member(s) missing, e.g. {missing[0]} "
            "(truncated?)",
            hint="nothing was restored; use a complete copy of the archive",
        )
