"""``onesource restore``: rebuild a hub from a backup archive, or check one against it.

Order (nothing in the target changes until every check passed):
1. the manifest's signature, with the audit public key of the target's key folder;
2. the keys: every key the backup names must be in place with the same fingerprint
   (keys are never in backups: restore the key folder first);
3. every member's checksum, extracting into a private folder under ``ONESOURCE_HOME``;
4. the target: its metadata DB holds no rows and its checkpoint file is empty (else
   ``force``: what is replaced is moved aside, a PostgreSQL DB dumped aside first),
   and every current version is either in the archive or already in the warehouse
   with the same checksums;
5. install: version folders (renamed into place), checkpoints and ``audit-log.id``
   (written aside, renamed), the DB last (SQLite: renamed; PostgreSQL:
   ``pg_restore --single-transaction``); a failure undoes the steps already done.
Then the audit chain is verified and every current version's files are checked again.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from onesource.ops import keyset
from onesource.ops.archive import check_members, parse_manifest, read_head
from onesource.ops.backup import CHECKPOINTS_DIR, CHECKPOINTS_FILE, LOG_ID_MEMBER
from onesource.ops.manifest import BackupError, Manifest, check_signature, sha256_stream
from onesource.ops.snapshot import (
    DB_MEMBER,
    backend,
    connected,
    null_engine,
    pg_dump_plain,
    pg_restore,
    read_state,
    sqlite_path,
    tables_with_rows,
)

DIAGNOSE_LIMIT = 4 << 20  # an unverified manifest parsed for an error message, at most
KEYS_HINT = (
    "keys are never in backups: restore the key folder (<ONESOURCE_HOME>/keys, or where "
    "ONESOURCE_AUDIT_*_FILE and ONESOURCE_EXCHANGE_SIGNING_KEY_FILE point) from your key "
    "backup first, then run the restore again"
)


@dataclass
class Outcome:
    """What a restore did, or what a check found."""

    manifest: Manifest
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kept_aside: list[str] = field(default_factory=list)
    copied_versions: int = 0
    audit: Any = None  # AuditCheck after a restore


def _fingerprints(manifest: Manifest) -> list[str]:
    """What is wrong with the target's keys for this backup (empty: all in place)."""
    problems = []
    found = {
        "audit_chain": keyset.audit_chain(),
        "audit_signing": keyset.audit_signing(),
        "audit_public": keyset.audit_public()[0],
        "request_signing": keyset.request_signing(),
    }
    expected = dict(manifest.keys)
    expected["audit_public"] = expected.get("audit_signing")
    labels = {
        "audit_chain": "audit chain key (HMAC)",
        "audit_signing": "audit checkpoint signing key (Ed25519)",
        "audit_public": "audit checkpoint public key",
        "request_signing": "request signing master key",
    }
    for name, state in found.items():
        want = expected.get(name)
        if want is None:
            continue  # the source hub had none (e.g. it never signed requests)
        if state.problem is not None:
            problems.append(f"{labels[name]}: {state.problem}")
        elif state.fingerprint != want:
            problems.append(
                f"{labels[name]} at {state.where} is key {state.fingerprint}; this backup "
                f"was made with key {want}"
            )
    return problems


def open_verified(src: Path, *, require_all_keys: bool) -> tuple[Manifest, list[str]]:
    """The manifest once its signature verifies; key problems (raised when required).

    Nothing of the manifest is parsed before its signature verified: an archive nobody
    signed can hold any bytes there (JSON built to exhaust memory or recursion).
    """
    body, sig = read_head(src)
    _state, public = keyset.audit_public()
    if public is None:
        missing = [f"{k.name}: {k.problem}" for k in keyset.all_keys() if k.problem is not None]
        raise BackupError(
            "the hub's keys are not in place for this backup:\n  - " + "\n  - ".join(missing),
            hint=KEYS_HINT,
        )
    try:
        check_signature(body, sig, public)
    except BackupError:
        claimed = _claimed_key_problems(body)
        if claimed:  # made by a hub whose keys are not these: say which, not only "altered"
            raise BackupError(
                "the hub's keys are not in place for this backup (its manifest, which does not "
                "verify with this hub's key, says):\n  - " + "\n  - ".join(claimed),
                hint=KEYS_HINT,
            ) from None
        raise
    manifest = parse_manifest(body)
    problems = _fingerprints(manifest)
    if require_all_keys and problems:
        raise BackupError(
            "the hub's keys are not in place for this backup:\n  - " + "\n  - ".join(problems),
            hint=KEYS_HINT,
        )
    return manifest, problems


def _claimed_key_problems(body: bytes) -> list[str]:
    """For the message only: the keys an unverified manifest names, held against ours.

    Parsed only when small, any failure being no claim: it is not trusted for anything else.
    """
    if len(body) > DIAGNOSE_LIMIT:
        return []
    try:
        return _fingerprints(parse_manifest(body))
    except (BackupError, RecursionError, MemoryError):
        return []


def _version_matches(warehouse: Any, version: dict[str, Any]) -> str | None:
    """None when the warehouse holds exactly the version's files, else what differs."""
    names = set(warehouse.files(version["path"]))
    want = version["files"]
    if not names:
        return "missing"
    if names != set(want):
        return f"other files ({', '.join(sorted(names ^ set(want))[:3])})"
    for name, info in want.items():
        with warehouse.open(f"{version['path']}/{name}", "rb") as fh:
            digest, size = sha256_stream(fh)
        if digest != info["sha256"] or size != info["size"]:
            return f"{name} differs from the backup's checksum"
    return None


def _label(v: dict[str, Any]) -> str:
    return f"{v['kind']} {v['subject']} v{v['number']} ({v['path']})"


def compare(manifest: Manifest) -> tuple[list[str], list[str]]:
    """(problems, notes): the live deployment held against the manifest."""
    from onesource.settings import get_settings
    from onesource.store.warehouse import Warehouse

    settings = get_settings()
    warehouse = Warehouse(settings.warehouse_root)
    problems: list[str] = []
    notes: list[str] = []
    with connected(settings.metadata_url) as conn:
        state = read_state(conn, every_version=True)
        head = manifest.audit_head
        if head is not None:
            import sqlalchemy as sa

            found = conn.execute(
                sa.text("SELECT hash FROM audit_log WHERE seq = :s"), {"s": head["seq"]}
            ).scalar()
            if found != head["hash"]:
                problems.append(
                    f"audit entry {head['seq']} is {'missing' if found is None else 'different'}"
                    " (the backup's audit head)"
                )
    rows = {(v["kind"], v["subject"], v["number"]): v for v in state.versions}
    for v in manifest.versions:
        row = rows.get((v["kind"], v["subject"], v["number"]))
        if row is None or row["path"] != v["path"]:
            problems.append(f"{_label(v)}: not in the metadata DB")
            continue
        if v["current"] and not row["current"]:
            notes.append(f"{v['kind']} {v['subject']}: the current version moved since the backup")
        why = _version_matches(warehouse, v)
        if why is not None:
            problems.append(f"{_label(v)}: {why}")
    return problems, notes


def check(src: Path) -> Outcome:
    """Verify the archive and hold the live deployment against it (changes nothing)."""
    manifest, key_problems = open_verified(src, require_all_keys=False)
    check_members(src, manifest)
    problems, notes = compare(manifest)
    return Outcome(manifest, problems, [*key_problems, *notes])


@dataclass
class _Target:
    url: str
    kind: str
    checkpoints: str
    log_id_path: Path
    warehouse: Any
    home: Path


def _target() -> _Target:
    from onesource.exchange.config import AuditSettings
    from onesource.settings import get_settings
    from onesource.store.warehouse import Warehouse

    settings = get_settings()
    audit = AuditSettings().resolved()
    return _Target(
        settings.metadata_url,
        backend(settings.metadata_url),
        audit.checkpoints or "",
        keyset.log_id_file(),
        Warehouse(settings.warehouse_root),
        settings.home,
    )


def _refuse_a_running_hub(t: _Target) -> None:
    """Refuse while another process has the SQLite DB open (a running web app, scheduler
    or worker): the restore renames the file away under it and it would go on writing
    into the copy kept aside.  Seen through ``/proc`` (Linux; processes this user may see)."""
    if t.kind != "sqlite":
        return
    path = sqlite_path(t.url)
    holders = _holders({str(path.resolve()) + s for s in ("", "-wal", "-shm", "-journal")})
    if holders:
        raise BackupError(
            f"the metadata DB {path} is open in process(es) {', '.join(map(str, holders[:5]))}:"
            " the hub is running",
            hint="stop the web app, Airflow and its workers (onesource up / serve), then restore",
        )


def _holders(paths: set[str]) -> list[int]:
    """Ids of other processes holding one of ``paths`` open."""
    proc = Path("/proc")
    found = []
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in paths for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
    return sorted(found)


def _occupied(t: _Target, manifest: Manifest) -> list[str]:
    """What in the target a restore would replace (empty: nothing)."""
    found = []
    tables = tables_with_rows(t.url)
    if tables:
        found.append(f"the metadata DB holds data (tables {', '.join(tables[:6])})")
    local = "://" not in t.checkpoints and Path(t.checkpoints).exists()
    if local and Path(t.checkpoints).stat().st_size:
        found.append(f"the checkpoint file {t.checkpoints} is not empty")
    if t.log_id_path.exists() and t.log_id_path.read_text().strip() != manifest.log_id:
        found.append(f"{t.log_id_path} names another audit log")
    return found


def _data_plan(t: _Target, manifest: Manifest) -> tuple[list[dict[str, Any]], list[str]]:
    """(versions to copy from the archive, problems): each version must come from somewhere."""
    files = manifest.files
    to_copy, problems = [], []
    for v in manifest.versions:
        in_archive = all(f"data/{v['path']}/{n}" in files for n in v["files"])
        why = _version_matches(t.warehouse, v)
        if why is None:
            continue  # already there, byte for byte (a warehouse on object storage)
        if why != "missing":
            problems.append(
                f"{_label(v)}: the warehouse holds {why}; versions are immutable, so move that "
                "folder away first"
            )
        elif in_archive:
            to_copy.append(v)
        else:
            problems.append(f"{_label(v)}: neither in this backup nor in the warehouse")
    return to_copy, problems


def _write_aside(
    data_from: Path, target: Path, stamp: str, undo: list[Callable[[], None]]
) -> str | None:
    """Put ``data_from`` at ``target`` by rename; an existing file is moved aside (returned)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.restore-{secrets.token_hex(4)}")
    shutil.copyfile(data_from, tmp)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    if not target.exists():
        os.replace(tmp, target)
        undo.append(lambda: target.unlink(missing_ok=True))
        return None
    aside = target.with_name(f"{target.name}.pre-restore-{stamp}")
    os.replace(target, aside)
    undo.append(lambda: os.replace(aside, target))
    os.replace(tmp, target)
    return str(aside)


def _same(a: Path, b: Path) -> bool:
    return b.exists() and a.read_bytes() == b.read_bytes()


def _install_sqlite(t: _Target, db: Path, stamp: str, undo: list[Callable[[], None]]) -> list[str]:
    path = sqlite_path(t.url)
    kept = []
    for suffix in ("-wal", "-shm", "-journal"):  # the old DB's companions go aside with it
        side = path.with_name(path.name + suffix)
        if side.exists():
            aside = side.with_name(f"{side.name}.pre-restore-{stamp}")
            os.replace(side, aside)
            undo.append(lambda s=side, a=aside: os.replace(a, s))  # type: ignore[misc]
            kept.append(str(aside))
    moved = _write_aside(db, path, stamp, undo)
    return [moved, *kept] if moved else kept


def restore(src: Path, *, force: bool = False) -> Outcome:
    """Restore ``src`` into the deployment the settings describe (see the module doc)."""
    import tempfile

    from onesource.exchange.config import AuditSettings
    from onesource.store.db import HEAD_REVISION, MIGRATIONS

    t = _target()
    _refuse_a_running_hub(t)
    manifest, _ = open_verified(src, require_all_keys=True)
    if manifest.db_backend != t.kind:
        raise BackupError(
            f"this backup holds a {manifest.db_backend} metadata DB; the target is {t.kind}",
            hint="restore into a deployment of the same backend (ONESOURCE_DB_URL)",
        )
    known = {p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py")}
    if manifest.db_revision is not None and manifest.db_revision not in known:
        raise BackupError(
            f"the backup's DB is at revision {manifest.db_revision}, newer than this hub "
            f"knows (head {HEAD_REVISION})",
            hint=f"upgrade OneSource to {manifest.hub_version} or later, then restore",
        )
    named = AuditSettings().log_id
    if named and named != manifest.log_id:
        raise BackupError(
            f"ONESOURCE_AUDIT_LOG_ID is {named!r} but the backup's audit log is "
            f"{manifest.log_id!r}: its checkpoints would not count",
            hint=f"unset ONESOURCE_AUDIT_LOG_ID or set it to {manifest.log_id}",
        )
    t.home.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".onesource-restore-", dir=t.home))
    outcome = Outcome(manifest)
    try:
        check_members(src, manifest, extract_to=work)
        occupied = _occupied(t, manifest)
        if occupied and not force:
            raise BackupError(
                "the target is not empty: " + "; ".join(occupied),
                hint="restore into an empty ONESOURCE_HOME / database, or pass --force "
                "(what is replaced is kept aside, never deleted)",
            )
        to_copy, problems = _data_plan(t, manifest)
        if problems:
            raise BackupError(
                f"{len(problems)} version(s) cannot be restored: " + "; ".join(problems[:5]),
                hint="restore the warehouse (e.g. its object-store bucket) first, or restore a "
                "backup made with --with-data (--all-versions for older versions)",
            )
        outcome.kept_aside = _install(t, manifest, work, to_copy, force)
        outcome.copied_versions = len(to_copy)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    from onesource.exchange.audit import AuditLog

    with null_engine(t.url) as engine:
        outcome.audit = AuditLog(engine).verify()
    outcome.problems, outcome.notes = compare(manifest)
    return outcome


def _install(
    t: _Target, manifest: Manifest, work: Path, to_copy: list[dict[str, Any]], force: bool
) -> list[str]:
    from onesource.exchange.config import AuditSettings

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    undo: list[Callable[[], None]] = []
    kept: list[str] = []
    try:
        for v in to_copy:
            staging = t.warehouse.new_staging("restore")
            for name in v["files"]:
                with (
                    (work / "data" / v["path"] / name).open("rb") as src,
                    t.warehouse.open(f"{staging}/{name}", "wb") as dst,
                ):
                    shutil.copyfileobj(src, dst, 1 << 20)
            t.warehouse.publish(staging, v["path"])
            undo.append(lambda p=v["path"]: t.warehouse.remove(p))  # type: ignore[misc]
        if "://" in t.checkpoints:
            _merge_checkpoint_objects(t.checkpoints, _archived_checkpoints(work), undo)
        elif _archived_checkpoints(work):
            lines = work / "checkpoint-lines"
            lines.write_text("".join(_archived_checkpoints(work)), encoding="utf-8")
            moved = _write_aside(lines, Path(t.checkpoints), stamp, undo)
            kept += [moved] if moved else []
        if (
            (work / LOG_ID_MEMBER).exists()
            and not AuditSettings().log_id
            and not _same(work / LOG_ID_MEMBER, t.log_id_path)
        ):
            moved = _write_aside(work / LOG_ID_MEMBER, t.log_id_path, stamp, undo)
            kept += [moved] if moved else []
        db = work / DB_MEMBER[t.kind]
        if t.kind == "sqlite":
            kept += _install_sqlite(t, db, stamp, undo)
        else:
            if force and tables_with_rows(t.url):
                aside = t.home / f"pre-restore-{stamp}.pgdump"
                pg_dump_plain(t.url, aside)
                kept.append(str(aside))
            pg_restore(t.url, db)
    except BaseException:
        for step in reversed(undo):
            with contextlib.suppress(OSError):
                step()
        raise
    return kept


def _archived_checkpoints(work: Path) -> list[str]:
    """The archive's checkpoint lines, whether the source kept a file or objects."""
    if (work / CHECKPOINTS_FILE).exists():
        text = (work / CHECKPOINTS_FILE).read_text(encoding="utf-8")
        return [line + "\n" for line in text.splitlines() if line.strip()]
    folder = work / CHECKPOINTS_DIR
    if not folder.exists():
        return []
    texts = (p.read_text(encoding="utf-8").strip() for p in sorted(folder.iterdir()))
    return [text + "\n" for text in texts if text]


def _merge_checkpoint_objects(
    location: str, lines: list[str], undo: list[Callable[[], None]]
) -> None:
    """Add each archived checkpoint the prefix does not hold yet, one object each."""
    import json

    import fsspec

    from onesource.exchange.checkpoints import CheckpointStore

    if not lines:
        return
    held = {text for _, text in CheckpointStore(location).lines()}
    fs, root = fsspec.core.url_to_fs(location)
    fs.makedirs(root, exist_ok=True)
    for line in lines:
        if line.strip() in held:
            continue
        try:
            seq = int(json.loads(line)["seq"])
        except (ValueError, KeyError, TypeError):
            seq = 0
        name = f"{root.rstrip('/')}/{seq:020d}-restored-{secrets.token_hex(4)}.json"
        fs.pipe_file(name, line.encode())
        undo.append(lambda n=name: fs.rm(n))  # type: ignore[misc]
