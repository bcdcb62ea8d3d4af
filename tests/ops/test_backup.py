"""``onesource backup`` / ``restore`` through the installed script.

A small hub (three resources, exchange calls, audit checkpoints) is backed up once; each
test restores into a fresh home whose key folder the operator restored separately (keys
are never in backups), then checks with ``onesource audit verify`` and ``onesource
restore --check`` (every current version's checksum).  Attacks: an archive with a changed
member, one whose manifest was recomputed too (no signing key), a truncated one, a member
that escapes the target, a non-empty target, missing keys.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.harness import REPO, Hub


@dataclass
class Source:
    hub: Hub
    with_data: Path  # .tar, files included
    checksums_only: Path  # .tar.gz, checksums only


def seed(hub: Hub, *args: str, wait: bool = True) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.ops.seed", *args],
        env=hub.env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if wait:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
    return proc


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    root = tmp_path_factory.mktemp("backup")
    hub = Hub.create(root / "src")
    seed(hub)
    full = hub.run("backup", str(root / "full.tar"), "--with-data")
    assert full.returncode == 0, full.stderr
    assert "keys are not in the archive" in full.stderr
    lean = hub.run("backup", str(root / "lean.tar.gz"), "--json")
    assert lean.returncode == 0, lean.stderr
    assert json.loads(lean.stdout)["data"] == "none"
    return Source(hub, root / "full.tar", root / "lean.tar.gz")


def fresh(source: Source, path: Path, *, keys: bool = True) -> Hub:
    """An empty home on a 'new machine'; the operator restored the key folder (or not)."""
    hub = Hub.create(path)
    if keys:
        shutil.copytree(source.hub.home / "keys", path / "keys")
    return hub


def assert_verified(hub: Hub, archive: Path) -> None:
    audit = hub.run("audit", "verify", "--json")
    assert audit.returncode == 0 and json.loads(audit.stdout)["ok"], audit.stdout
    assert json.loads(audit.stdout)["entries"] >= 3
    check = hub.run("restore", str(archive), "--check", "--json")
    data = json.loads(check.stdout)
    assert check.returncode == 0 and data["ok"] and data["problems"] == [], check.stdout
    assert data["versions"] == 3


def test_restore_onto_a_fresh_machine(source: Source, tmp_path: Path) -> None:
    hub = fresh(source, tmp_path / "dst")
    done = hub.run("restore", str(source.with_data))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 versions match their checksums" in done.stdout
    assert "audit log ok" in done.stdout
    assert_verified(hub, source.with_data)
    rows = hub.run("versions", "population_register")
    assert rows.returncode == 0 and "│ * │" in rows.stdout


def test_a_second_restore_refuses_then_force_keeps_the_old_aside(
    source: Source, tmp_path: Path
) -> None:
    hub = fresh(source, tmp_path / "dst")
    assert hub.run("restore", str(source.with_data)).returncode == 0
    again = hub.run("restore", str(source.with_data))
    assert again.returncode == 1
    assert "the target is not empty" in again.stderr and "--force" in again.stderr
    forced = hub.run("restore", str(source.with_data), "--force", "--json")
    data = json.loads(forced.stdout)
    assert forced.returncode == 0 and data["ok"] and data["audit"]["ok"], forced.stdout
    kept = [Path(p) for p in data["kept_aside"]]
    assert any(p.name.startswith("onesource.db.pre-restore-") for p in kept)
    assert any(p.name.startswith("checkpoints.jsonl.pre-restore-") for p in kept)
    assert all(p.exists() for p in kept)  # never deleted


def test_keys_are_required_and_named(source: Source, tmp_path: Path) -> None:
    hub = fresh(source, tmp_path / "dst", keys=False)
    refused = hub.run("restore", str(source.with_data))
    assert refused.returncode == 1
    assert "keys are not in place" in refused.stderr
    assert "audit-chain.key does not exist" in refused.stderr
    assert "keys are never in backups" in refused.stderr
    assert not (hub.home / "onesource.db").exists()  # nothing was written


def test_another_hubs_keys_are_refused(
    source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onesource.exchange.keyfiles import ed25519_private, secret_key
    from onesource.ops.manifest import BackupError
    from onesource.ops.restore import restore

    hub = fresh(source, tmp_path / "dst", keys=False)
    keys = hub.home / "keys"  # an unrelated hub's keys, at the default paths
    secret_key(
        env_value=None, path=None, default_path=keys / "audit-chain.key", create=True, what="k"
    )
    ed25519_private(keys / "audit-checkpoint.pem", create=True)
    use_env(monkeypatch, hub)
    with pytest.raises(BackupError, match="this backup was made with key"):
        restore(source.with_data)


def test_checksums_only_backup_needs_the_warehouse(source: Source, tmp_path: Path) -> None:
    hub = fresh(source, tmp_path / "dst")
    refused = hub.run("restore", str(source.checksums_only))
    assert refused.returncode == 1
    assert "neither in this backup nor in the warehouse" in refused.stderr
    assert not (hub.home / "onesource.db").exists()
    shutil.copytree(source.hub.home / "warehouse", hub.home / "warehouse", dirs_exist_ok=True)
    done = hub.run("restore", str(source.checksums_only), "--json")
    data = json.loads(done.stdout)
    assert done.returncode == 0 and data["ok"] and data["audit"]["ok"], done.stdout
    assert data["copied_versions"] == 0 and data["problems"] == []


def _members(archive: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(archive) as tar:
        return [(m, tar.extractfile(m).read()) for m in tar]  # type: ignore[union-attr]


def _write(archive: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    with tarfile.open(archive, "w") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _flip(data: bytes) -> bytes:
    return data[:-20] + bytes([data[-20] ^ 1]) + data[-19:]


def _refused(source: Source, tmp_path: Path, archive: Path, *needles: str) -> None:
    """Through the installed script: exit 1, the reason, nothing written."""
    hub = fresh(source, tmp_path / "dst")
    refused = hub.run("restore", str(archive))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    said = " ".join(refused.stderr.split())  # rich wraps long lines at the terminal's width
    for needle in needles:
        assert needle in said, refused.stderr
    assert "Error: unexpected" not in refused.stderr
    assert not (hub.home / "onesource.db").exists()
    assert not (hub.home / "warehouse" / "curated").exists()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Tests that point this process at a home (``use_env``) leave no cached settings."""
    from onesource.settings import get_settings

    yield
    get_settings.cache_clear()


def use_env(monkeypatch: pytest.MonkeyPatch, hub: Hub) -> None:
    """Point this process's settings at ``hub`` (for calls that need no subprocess)."""
    from onesource.settings import get_settings

    for key in list(os.environ):
        if key.startswith("ONESOURCE_"):
            monkeypatch.delenv(key)
    for key, value in hub.env.items():
        if key.startswith("ONESOURCE_"):
            monkeypatch.setenv(key, value)
    get_settings.cache_clear()


@pytest.fixture
def in_process(
    source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Path], str]]:
    """Restore in this process into a fresh home (with keys): the refusal's message."""
    from onesource.ops.manifest import BackupError
    from onesource.ops.restore import restore
    from onesource.settings import get_settings

    hub = fresh(source, tmp_path / "dst")
    use_env(monkeypatch, hub)

    def attempt(archive: Path) -> str:
        with pytest.raises(BackupError) as info:
            restore(archive)
        assert not (hub.home / "onesource.db").exists()
        assert not (hub.home / "warehouse" / "curated").exists()
        return str(info.value)

    yield attempt
    get_settings.cache_clear()


def test_a_changed_member_is_refused(source: Source, tmp_path: Path) -> None:
    members = _members(source.with_data)
    members = [
        (i, _flip(d) if i.name.endswith("data.parquet") and "population" in i.name else d)
        for i, d in members
    ]
    _write(tmp_path / "changed.tar", members)
    _refused(source, tmp_path, tmp_path / "changed.tar", "does not match the manifest's checksum")
    hub = Hub.create(tmp_path / "dst")  # --check refuses it too, changing nothing
    check = hub.run("restore", str(tmp_path / "changed.tar"), "--check")
    assert check.returncode == 1 and "does not match" in check.stderr


def test_a_recomputed_manifest_is_refused_by_its_signature(
    source: Source, tmp_path: Path, in_process: Callable[[Path], str]
) -> None:
    """The attacker edits the DB snapshot and the manifest's checksum, but has no key."""
    import hashlib

    members = _members(source.with_data)
    manifest = json.loads(next(d for i, d in members if i.name == "MANIFEST.json"))
    out = []
    for info, data in members:
        if info.name == "db/onesource.sqlite":
            data = _flip(data)
            manifest["files"][info.name]["sha256"] = hashlib.sha256(data).hexdigest()
        out.append((info, data))
    body = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False).encode()
    out = [(i, body if i.name == "MANIFEST.json" else d) for i, d in out]
    _write(tmp_path / "forged.tar", out)
    assert "signature does not verify" in in_process(tmp_path / "forged.tar")


@pytest.mark.parametrize("keep", [0.5, 0.97], ids=["half", "tail-cut"])
def test_a_truncated_archive_is_refused(
    source: Source, tmp_path: Path, keep: float, in_process: Callable[[Path], str]
) -> None:
    data = source.with_data.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: int(len(data) * keep)])
    assert "nothing was restored" in in_process(cut)


def test_a_truncated_compressed_archive_is_refused(
    source: Source, tmp_path: Path, in_process: Callable[[Path], str]
) -> None:
    data = source.checksums_only.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) - 200])
    assert "truncated or damaged" in in_process(cut)


def test_a_member_outside_the_manifest_is_refused(
    source: Source, tmp_path: Path, in_process: Callable[[Path], str]
) -> None:
    members = _members(source.with_data)
    evil = tarfile.TarInfo("data/../../escape.txt")
    members.append((evil, b"owned"))
    _write(tmp_path / "extra.tar", members)
    assert "is not in the signed manifest" in in_process(tmp_path / "extra.tar")
    assert not (tmp_path / "escape.txt").exists()


def test_a_backup_during_writes_is_consistent(source: Source, tmp_path: Path) -> None:
    """Versions and audit entries (a checkpoint after each) are written while the backup
    runs: the restored hub verifies, and every version the manifest names matches."""
    hub = Hub.create(tmp_path / "busy")
    stop = tmp_path / "stop"
    writer = seed(hub, "--churn", str(stop), wait=False)
    try:
        deadline = time.monotonic() + 60
        while not stop.with_name("stop.started").exists():
            assert writer.poll() is None and time.monotonic() < deadline, writer.stdout
            time.sleep(0.05)
        made = hub.run("backup", str(tmp_path / "busy.tar"), "--with-data")
        assert writer.poll() is None  # the writer was still writing after the backup
    finally:
        stop.write_text("1")
        out, _ = writer.communicate(timeout=60)
    assert made.returncode == 0, made.stderr
    assert writer.returncode == 0, out
    dst = Hub.create(tmp_path / "dst")
    shutil.copytree(hub.home / "keys", dst.home / "keys")
    done = dst.run("restore", str(tmp_path / "busy.tar"), "--json")
    data = json.loads(done.stdout)  # the restore verifies the chain and every checksum itself
    assert done.returncode == 0 and data["ok"] and data["audit"]["ok"], done.stdout
    assert data["problems"] == [] and data["audit"]["entries"] >= 5


def test_backup_refuses_to_overwrite_and_bad_names(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onesource.ops.backup import create_backup
    from onesource.ops.manifest import BackupError
    from onesource.settings import get_settings

    use_env(monkeypatch, source.hub)
    try:
        with pytest.raises(BackupError, match="already exists"):
            create_backup(source.with_data)
        with pytest.raises(BackupError, match=r"\*\.tar\.gz"):
            create_backup(source.with_data.with_suffix(".zip"))
    finally:
        get_settings.cache_clear()


@pytest.fixture
def pg_pair(postgres_url: str) -> Iterator[tuple[str, str]]:
    """Two fresh PostgreSQL databases (source and target), dropped afterwards."""
    import uuid

    import sqlalchemy as sa

    missing = [t for t in ("pg_dump", "pg_restore") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not on PATH: PostgreSQL backups cannot run here")
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    base = sa.make_url(postgres_url)
    names = [f"t_bk_{uuid.uuid4().hex[:8]}_{side}" for side in ("src", "dst")]
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield tuple(base.set(database=n).render_as_string(hide_password=False) for n in names)  # type: ignore[misc]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.services
def test_postgresql_round_trip(pg_pair: tuple[str, str], tmp_path: Path) -> None:
    src_url, dst_url = pg_pair
    src = Hub.create(tmp_path / "src", ONESOURCE_DB_URL=src_url)
    seed(src)
    made = src.run("backup", str(tmp_path / "pg.tar.gz"), "--with-data", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["db_backend"] == "postgresql"
    dst = Hub.create(tmp_path / "dst", ONESOURCE_DB_URL=dst_url)
    shutil.copytree(src.home / "keys", dst.home / "keys")
    done = dst.run("restore", str(tmp_path / "pg.tar.gz"), "--json")
    data = json.loads(done.stdout)  # the restore verifies the chain and every checksum itself
    assert done.returncode == 0 and data["ok"] and data["audit"]["ok"], done.stdout
    assert data["problems"] == [] and data["versions"] == 3
    forced = dst.run("restore", str(tmp_path / "pg.tar.gz"), "--force", "--json")
    data = json.loads(forced.stdout)  # over a non-empty database: dumped aside first
    assert forced.returncode == 0 and data["ok"] and data["audit"]["ok"], forced.stdout
    dumps = [Path(p) for p in data["kept_aside"] if p.endswith(".pgdump")]
    assert len(dumps) == 1 and dumps[0].stat().st_size > 0


def test_missing_pg_dump_is_named(tmp_path: Path) -> None:
    """No PostgreSQL client tools on PATH: a clear error naming the tool (exit 1)."""
    empty = tmp_path / "bin"
    empty.mkdir()
    hub = Hub.create(
        tmp_path / "hub", ONESOURCE_DB_URL="postgresql+psycopg://postgres@127.0.0.1:1/none"
    )
    hub.env["PATH"] = str(empty)
    from onesource.exchange.keyfiles import ed25519_private

    ed25519_private(hub.home / "keys" / "audit-checkpoint.pem", create=True)
    out = hub.run("backup", str(tmp_path / "x.tar.gz"))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "need pg_dump on PATH" in out.stderr and "postgresql-client" in out.stderr
    assert not (tmp_path / "x.tar.gz").exists()


def test_checkpoints_restore_into_an_object_store_prefix(
    source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The source kept a checkpoint file; the new deployment keeps one object per checkpoint
    (an fsspec URL): the restored log verifies against the objects."""
    import uuid

    from onesource.ops.restore import restore

    hub = fresh(source, tmp_path / "dst")
    hub.env["ONESOURCE_AUDIT_CHECKPOINTS"] = f"memory://cp-{uuid.uuid4().hex[:8]}/hub1"
    use_env(monkeypatch, hub)
    outcome = restore(source.with_data)
    assert outcome.audit.ok and outcome.audit.checkpoints >= 1, outcome.audit
    assert outcome.problems == []
    again = restore(source.with_data, force=True)  # the objects are there: none added twice
    assert again.audit.ok and again.audit.checkpoints == outcome.audit.checkpoints


def test_a_hub_that_never_audited_gets_its_signing_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No exchange call yet, so no checkpoint key: the backup makes the default one (as the
    hub would) and says to add it to the key backup; a key path the operator named is never
    made."""
    from alembic import command

    from onesource.ops.backup import create_backup
    from onesource.ops.manifest import BackupError
    from onesource.store.db import alembic_config

    hub = Hub.create(tmp_path / "hub")
    command.upgrade(alembic_config(hub.env["ONESOURCE_DB_URL"]), "head")
    use_env(monkeypatch, hub)
    monkeypatch.setenv("ONESOURCE_AUDIT_SIGNING_KEY_FILE", str(tmp_path / "named.pem"))
    with pytest.raises(BackupError, match="named.pem does not exist"):
        create_backup(tmp_path / "a.tar")
    assert not (tmp_path / "named.pem").exists()
    monkeypatch.delenv("ONESOURCE_AUDIT_SIGNING_KEY_FILE")
    made = create_backup(tmp_path / "a.tar")
    assert any("add it to the key backup" in n for n in made.notes)
    assert (hub.home / "keys" / "audit-checkpoint.pem").exists()
    assert made.manifest.audit_head is None and made.manifest.versions == []
