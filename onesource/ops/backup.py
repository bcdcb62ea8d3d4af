"""``onesource backup``: one archive from which a hub can be rebuilt on a fresh machine.

What goes in, in this order (the order is what makes it consistent):
1. the audit checkpoints (file lines, or the objects under a URL prefix) and
   ``audit-log.id``: taken BEFORE the DB, so no checkpoint names an entry the snapshot
   lacks (entries newer than the last checkpoint are merely unanchored);
2. the metadata DB: a consistent snapshot (``onesource.ops.snapshot``), and from that
   same snapshot the current version of every resource, release and base entity;
3. the SHA-256 of every file of those versions in the warehouse and, with
   ``data="current"`` (``--with-data``) or ``"all"`` (``--all-versions``), the files too;
4. ``MANIFEST.json`` (checksums of every member) signed with the checkpoint key.

Never in it: the keys (audit chain key, checkpoint signing key, request signing key,
pseudonym keys).  A backup that carried them would let whoever holds a copy forge a
whole consistent history, sign a doctored archive, and re-identify pseudonymised
releases; operators keep the key folder in a secrets store of its own.  The manifest
records each key's public fingerprint so a restore can tell a missing key from a wrong one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from onesource.ops import keyset
from onesource.ops.archive import safe_member
from onesource.ops.manifest import (
    MANIFEST,
    SIGNATURE,
    BackupError,
    Manifest,
    sha256_stream,
    sign,
)
from onesource.ops.snapshot import DB_MEMBER, backend, pg_snapshot, sqlite_snapshot

DATA_MODES = ("none", "current", "all")
CHECKPOINTS_FILE = "audit/checkpoints.jsonl"
CHECKPOINTS_DIR = "audit/checkpoints"
LOG_ID_MEMBER = "audit/audit-log.id"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    size: int
    notes: list[str]


def hub_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("onesource-hub")
    except PackageNotFoundError:
        return "unknown"


def archive_path(dest: Path) -> tuple[Path, str]:
    """The archive's path (a folder gets a dated name) and tarfile's write mode."""
    if dest.is_dir():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        dest = dest / f"onesource-backup-{stamp}.tar.gz"
    name = dest.name
    if name.endswith((".tar.gz", ".tgz")):
        mode = "w:gz"
    elif name.endswith(".tar"):
        mode = "w"
    else:
        raise BackupError(
            f"{dest}: a backup archive is named *.tar.gz, *.tgz or *.tar",
            hint="e.g. onesource backup /srv/backups/onesource-2026-11-30.tar.gz",
        )
    if dest.exists():
        raise BackupError(f"{dest} already exists", hint="backups never overwrite: pick a new name")
    if not dest.parent.is_dir():
        raise BackupError(f"the folder {dest.parent} does not exist", hint="create it first")
    return dest, mode


def _copy_checkpoints(work: Path, location: str) -> None:
    if "://" in location:
        import fsspec

        fs, root = fsspec.core.url_to_fs(location)
        if not fs.exists(root):
            return
        target = work / CHECKPOINTS_DIR
        target.mkdir(parents=True)
        for name in sorted(fs.find(root)):
            (target / name.rstrip("/").rsplit("/", 1)[-1]).write_bytes(fs.cat_file(name))
        return
    path = Path(location)
    if path.exists():
        (work / CHECKPOINTS_FILE).parent.mkdir(parents=True, exist_ok=True)
        (work / CHECKPOINTS_FILE).write_bytes(path.read_bytes())


def _version_files(
    warehouse: Any, version: dict[str, Any], copy_to: Path | None
) -> dict[str, dict[str, Any]]:
    """sha256 and size of each file of a version (copied under ``copy_to`` when given).

    The path comes from the metadata DB, which whoever administers the DB can write: one
    that leaves the warehouse (``../keys``) would put other files, the keys, in the archive.
    """
    if not safe_member(f"data/{version['path']}/file"):
        raise BackupError(
            f"{version['kind']} {version['subject']!r} version {version['number']}: its "
            f"warehouse path {version['path']!r} leaves the warehouse (the metadata DB was "
            "altered?); nothing was written",
            hint="find who changed the versions table (onesource audit verify, the DB's own "
            "logs) before backing up",
        )
    names = warehouse.files(version["path"])
    if not names:
        raise BackupError(
            f"{version['kind']} {version['subject']!r} version {version['number']}: its files "
            f"are missing from the warehouse ({warehouse.uri(version['path'])})",
            hint="the backup would not restore: find what removed them (onesource versions, "
            "onesource rollback) before backing up",
        )
    out = {}
    for name in names:
        rel = f"{version['path']}/{name}"
        with warehouse.open(rel, "rb") as fh:
            if copy_to is None:
                digest, size = sha256_stream(fh)
            else:
                target = copy_to / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("wb") as out_fh:
                    digest, size = _tee(fh, out_fh)
        out[name] = {"sha256": digest, "size": size}
    return out


def _tee(src: Any, dst: Any) -> tuple[str, int]:
    import hashlib

    h, size = hashlib.sha256(), 0
    for chunk in iter(lambda: src.read(1 << 20), b""):
        h.update(chunk)
        dst.write(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def create_backup(dest: Path, *, data: str = "none") -> BackupResult:
    """Write a backup archive at ``dest`` (see the module doc); atomic: all or nothing."""
    from onesource.exchange.audit import AuditLog
    from onesource.exchange.config import AuditSettings
    from onesource.settings import get_settings
    from onesource.store.db import engine_for
    from onesource.store.warehouse import Warehouse

    if data not in DATA_MODES:
        raise BackupError(f"unknown data mode {data!r}", hint=f"one of {', '.join(DATA_MODES)}")
    settings = get_settings()
    url = settings.metadata_url
    kind = backend(url)
    dest, mode = archive_path(dest)
    notes: list[str] = []
    private = keyset.signing_private()
    signing_file = AuditSettings().resolved().signing_key_file
    if private is None and AuditSettings().signing_key_file is None:
        # the default key the hub makes at its first audit entry (nothing audited yet)
        from onesource.exchange.keyfiles import ed25519_private

        private = ed25519_private(signing_file, create=True)  # type: ignore[arg-type]
        notes.append(f"made the checkpoint signing key {signing_file}: add it to the key backup")
    if private is None:
        raise BackupError(
            f"cannot sign the backup: the audit checkpoint signing key {signing_file} does "
            "not exist",
            hint="run the backup where the hub's key folder is (ONESOURCE_AUDIT_SIGNING_KEY_FILE)",
        )
    chain = keyset.audit_chain()
    signing = keyset.request_signing()
    audit = AuditSettings().resolved()
    log_id = AuditLog(engine_for(url), audit).log_id
    work = Path(tempfile.mkdtemp(prefix=".onesource-backup-", dir=dest.parent))
    partial = dest.with_name(f".{dest.name}.partial-{secrets.token_hex(4)}")
    try:
        # 1. checkpoints before the DB (see the module doc)
        _copy_checkpoints(work, audit.checkpoints or "")
        id_file = keyset.log_id_file()
        if id_file.exists():
            (work / LOG_ID_MEMBER).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(id_file, work / LOG_ID_MEMBER)
        # 2. the DB snapshot and what it says is current
        db_file = work / DB_MEMBER[kind]
        db_file.parent.mkdir(parents=True)
        snap = sqlite_snapshot if kind == "sqlite" else pg_snapshot
        state = snap(url, db_file, every_version=data == "all")
        # 3. checksums (and files) of the versions
        warehouse = Warehouse(settings.warehouse_root)
        copy_to = None if data == "none" else work / "data"
        known: dict[str, dict[str, Any]] = {}
        for version in state.versions:
            version["files"] = _version_files(warehouse, version, copy_to)
            if copy_to is not None:
                for name, info in version["files"].items():
                    known[f"data/{version['path']}/{name}"] = info
        files = {}
        for path in sorted(p for p in work.rglob("*") if p.is_file()):
            member = path.relative_to(work).as_posix()
            if member not in known:
                with path.open("rb") as fh:
                    digest, size = sha256_stream(fh)
                known[member] = {"sha256": digest, "size": size}
            files[member] = known[member]
        manifest = Manifest(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            hub_version=hub_version(),
            db_backend=kind,
            db_revision=state.revision,
            log_id=log_id,
            data=data,
            audit_head=state.audit_head,
            keys={
                "audit_chain": chain.fingerprint,
                "audit_signing": keyset.public_fingerprint(private.public_key()),
                "request_signing": signing.fingerprint,
            },
            files=files,
            versions=state.versions,
        )
        body = manifest.to_bytes()
        (work / MANIFEST).write_bytes(body)
        (work / SIGNATURE).write_bytes(sign(body, private))
        # 4. the archive: manifest first, written aside, then renamed into place
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode=mode) as tar:  # type: ignore[call-overload]
                for member in [MANIFEST, SIGNATURE, *files]:
                    info = tar.gettarinfo(str(work / member), arcname=member)
                    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
                    with (work / member).open("rb") as fh:
                        tar.addfile(info, fh)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return BackupResult(dest, manifest, dest.stat().st_size, notes)
