"""Attacks on ``onesource restore`` with archives no hub made: memory bombs hidden in tar
headers, and a manifest built to hurt its parser before its signature is checked.

Nothing here needs a real backup: each archive is crafted, and refused before anything
is written (or any untrusted byte is parsed as JSON).
"""

from __future__ import annotations

import io
import os
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from tests.cli.harness import Hub

BOMB = 96 << 20  # declared bytes of one header: tarfile would read them all into memory


def _said(text: str) -> str:
    """``text`` on one line: rich wraps long lines at the terminal's width."""
    return " ".join(text.split())


def _header_bomb(path: Path, kind: bytes, after: list[tuple[str, bytes]] | None = None) -> Path:
    """A tar whose first member is a long-name/pax/sparse header declaring ``BOMB`` bytes,
    stored sparse (zeros cost no disk)."""
    info = tarfile.TarInfo("././@LongLink")
    info.type, info.size = kind, BOMB
    head = info.tobuf(format=tarfile.GNU_FORMAT)
    with path.open("wb") as fh:
        for name, data in after or []:
            member = tarfile.TarInfo(name)
            member.size = len(data)
            fh.write(member.tobuf(format=tarfile.GNU_FORMAT))
            fh.write(data + b"\0" * (-len(data) % 512))
        fh.write(head)
        fh.truncate(fh.tell() + BOMB + 1024)
    return path


@pytest.mark.parametrize(
    "kind",
    [tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE],
    ids=["gnu-longname", "gnu-longlink", "pax", "pax-global"],
)
def test_a_huge_tar_header_is_refused_before_it_is_read(tmp_path: Path, kind: bytes) -> None:
    """Attack: a header declaring gigabytes (a few MB once gzipped) made tarfile read them all
    into memory while opening the archive, before any check of ours."""
    from onesource.ops.archive import read_head
    from onesource.ops.manifest import BackupError

    bomb = _header_bomb(tmp_path / "bomb.tar", kind)
    tracemalloc.start()
    try:
        with pytest.raises(BackupError, match="header"):
            read_head(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < BOMB // 8, f"{peak >> 20} MiB read for a refused archive"


def test_a_header_bomb_after_the_manifest_is_refused_too(tmp_path: Path) -> None:
    from onesource.ops.archive import check_members
    from onesource.ops.manifest import BackupError, Manifest

    head = [("MANIFEST.json", b"{}"), ("MANIFEST.sig", b"x")]
    bomb = _header_bomb(tmp_path / "late.tar", tarfile.XHDTYPE, after=head)
    manifest = Manifest("", "", "sqlite", None, "log", "none", None, {}, {})
    tracemalloc.start()
    try:
        with pytest.raises(BackupError, match="header"):
            check_members(bomb, manifest)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < BOMB // 8


def _tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_an_unsigned_manifest_is_not_parsed(tmp_path: Path) -> None:
    """Attack: a manifest of 200,000 nested arrays (a RecursionError escaped as a traceback;
    a big one costs gigabytes as Python objects) is refused by its signature first."""
    from onesource.exchange.keyfiles import ed25519_private

    hub = Hub.create(tmp_path / "dst")
    ed25519_private(hub.home / "keys" / "audit-checkpoint.pem", create=True)
    deep = _tar(tmp_path / "deep.tar", [("MANIFEST.json", b"[" * 200_000), ("MANIFEST.sig", b"")])
    for args in (["--check"], []):
        done = hub.run("restore", str(deep), *args)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "signature does not verify" in _said(done.stderr), done.stderr
        assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr


def test_a_version_path_leaving_the_warehouse_is_refused_not_archived(tmp_path: Path) -> None:
    """Attack: whoever can write the metadata DB (a DB administrator: the audit log's
    adversary) points a version at ``../keys``; ``backup --with-data`` then copied the key
    folder into the archive and signed it, though keys are never to be in a backup."""
    import sqlalchemy as sa

    hub = Hub.create(tmp_path / "src")
    keys = hub.home / "keys"
    keys.mkdir(parents=True)
    (keys / "audit-chain.key").write_text("00" * 32)
    from onesource.store.db import migrate

    migrate(hub.env["ONESOURCE_DB_URL"])
    engine = sa.create_engine(hub.env["ONESOURCE_DB_URL"])
    now = "2026-11-30 00:00:00"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO runs (id, kind, subject, status, started_at, params) "
                "VALUES ('r1', 'resource', 'grid_events', 'succeeded', :t, '{}')"
            ),
            {"t": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO versions (kind, subject, number, run_id, path, row_count, bytes, "
                "schema_fingerprint, stats, created_at) VALUES ('resource', 'grid_events', 1, "
                "'r1', '../keys', 1, 1, 'x', '{}', :t)"
            ),
            {"t": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO current_versions (kind, subject, number, run_id, updated_at) "
                "VALUES ('resource', 'grid_events', 1, 'r1', :t)"
            ),
            {"t": now},
        )
    engine.dispose()
    archive = tmp_path / "b.tar"
    done = hub.run("backup", str(archive), "--with-data")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "../keys" in _said(done.stderr)
    assert not archive.exists()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE])
def test_links_and_folders_named_in_the_manifest_are_refused(tmp_path: Path, kind: bytes) -> None:
    """Held: a member the manifest names that is a symbolic or hard link (to the key
    folder, /etc/passwd) or a folder is refused, and nothing is extracted."""
    from onesource.ops.archive import check_members
    from onesource.ops.manifest import BackupError, Manifest

    path = tmp_path / "links.tar"
    with tarfile.open(path, "w") as tar:
        for name in ("MANIFEST.json", "MANIFEST.sig"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"{}"))
        link = tarfile.TarInfo("db/onesource.sqlite")
        link.type, link.linkname = kind, "/etc/passwd"
        tar.addfile(link)
    files = {"db/onesource.sqlite": {"sha256": "0" * 64, "size": 0}}
    manifest = Manifest("", "", "sqlite", None, "log", "none", None, {}, files)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BackupError, match="not a plain file"):
        check_members(path, manifest, extract_to=out)
    assert list(out.iterdir()) == []


def test_a_restore_under_a_running_hub_is_refused(tmp_path: Path) -> None:
    """Attack (on the operator): ``restore --force`` while the web app still holds the
    SQLite DB open; the file was renamed away under it and the app went on writing into the
    copy kept aside: every answer after the restore lost."""
    import sqlite3

    hub = Hub.create(tmp_path / "dst")
    with sqlite3.connect(hub.home / "onesource.db") as made:
        made.execute("CREATE TABLE t (x)")
    made.close()
    archive = _tar(tmp_path / "any.tar", [("MANIFEST.json", b"{}"), ("MANIFEST.sig", b"")])
    held = sqlite3.connect(hub.home / "onesource.db")  # a running hub's pooled connection
    try:
        held.execute("SELECT 1").fetchall()
        refused = hub.run("restore", str(archive), "--force")
    finally:
        held.close()
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "is open in process" in _said(refused.stderr)
    assert str(os.getpid()) in refused.stderr
    assert "stop" in refused.stderr
    after = hub.run("restore", str(archive), "--force")  # closed: on to the archive's checks
    assert after.returncode == 1 and "is open in process" not in _said(after.stderr)
