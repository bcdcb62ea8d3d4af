"""The audit chain's key and checkpoints: where they live, SM3, old unkeyed entries."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from onesource.exchange.audit import AuditLog, AuditRecord, chain_hash
from onesource.store import Store

REPO = Path(__file__).resolve().parents[2]


def _record(i: int) -> AuditRecord:
    return AuditRecord("edu", "/api/exchange/verify", "POST", "match", 200, row_count=i)


def test_key_and_signing_key_are_made_private_outside_the_db(hub_home: Path) -> None:
    log = AuditLog(Store.open().engine)
    log.append(_record(1))  # a process's first entries are checkpointed at once
    assert not log.anchor()  # nothing left to anchor
    for name in ("audit-chain.key", "audit-checkpoint.pem"):
        mode = stat.S_IMODE((hub_home / "keys" / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    assert stat.S_IMODE((hub_home / "keys").stat().st_mode) == 0o700
    line = json.loads((hub_home / "audit" / "checkpoints.jsonl").read_text().splitlines()[-1])
    assert line["seq"] == 1 and line["chain"].startswith("hmac-sha256:")
    assert log.verify().ok


def test_sm3_chain_verifies_and_names_its_hash(
    hub_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONESOURCE_AUDIT_HASH", "sm3")
    log = AuditLog(Store.open().engine)
    log.append_many([_record(i) for i in range(3)])
    row = log.query(limit=1)[0]
    assert row["chain"].startswith("hmac-sm3:") and len(row["hash"]) == 64
    assert log.verify().ok
    with log.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET row_count = 7 WHERE seq = 2"))
    check = log.verify()
    assert not check.ok and check.first_bad_seq == 2


def test_an_operator_named_key_file_is_never_created(
    hub_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from schemas.errors import ConfigError

    monkeypatch.setenv("ONESOURCE_AUDIT_KEY_FILE", str(hub_home / "lost.key"))
    with pytest.raises(ConfigError, match="does not exist"):
        AuditLog(Store.open().engine).append(_record(1))


def test_old_unkeyed_entries_are_reported_and_anchored_by_keyed_ones(hub_home: Path) -> None:
    """A DB from before keyed chains: its entries still verify (as unkeyed), and a rewrite
    of them breaks the first keyed entry's link."""
    log = AuditLog(Store.open().engine)
    prev = "0" * 64
    table = sa.Table("audit_log", sa.MetaData(), autoload_with=log.engine)
    rows = []
    for seq in (1, 2, 3):
        entry = {
            "seq": seq,
            "at": __import__("datetime").datetime(2026, 1, 1, tzinfo=__import__("datetime").UTC),
            "department": "edu",
            "endpoint": "/api/exchange/verify",
            "method": "POST",
            "resource": None,
            "fields": None,
            "purpose": None,
            "result": "ok",
            "status_code": 200,
            "row_count": seq,
            "duration_ms": None,
        }
        digest = chain_hash(prev, entry)
        rows.append({**entry, "prev_hash": prev, "hash": digest, "chain": None})
        prev = digest
    with log.engine.begin() as conn:
        conn.execute(table.insert(), rows)
    log.append(_record(4))
    refused = log.verify()  # unkeyed entries are forgeable: only on the operator's word
    assert not refused.ok and refused.kind == "legacy" and "--accept-legacy 3" in refused.reason
    assert not log.verify(accept_legacy=2).ok
    check = log.verify(accept_legacy=3)
    assert check.ok and check.legacy_entries == 3 and check.entries == 4
    assert any("original unkeyed chain" in n for n in check.notes)
    with log.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET department = 'psb' WHERE seq = 3"))
    assert not log.verify(accept_legacy=3).ok


def test_forged_checkpoint_is_refused(hub_home: Path) -> None:
    log = AuditLog(Store.open().engine)
    log.append(_record(1))
    log.anchor()
    path = hub_home / "audit" / "checkpoints.jsonl"
    line = json.loads(path.read_text().splitlines()[-1])
    line["seq"] = 99
    with path.open("a") as fh:
        fh.write(json.dumps(line) + "\n")
    check = log.verify()
    assert not check.ok and check.kind == "checkpoint" and "bad signature" in (check.reason or "")


def test_checkpoints_under_an_object_storage_prefix(
    hub_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ONESOURCE_AUDIT_CHECKPOINTS", f"file://{tmp_path}/anchors")
    monkeypatch.setenv("ONESOURCE_AUDIT_CHECKPOINT_EVERY", "2")
    log = AuditLog(Store.open().engine)
    for i in range(5):
        log.append(_record(i))
    assert len(list((tmp_path / "anchors").iterdir())) == 3  # the first entry, then every 2
    with log.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq > 3"))
    check = log.verify()
    assert not check.ok and check.kind == "truncated"


def test_a_clean_exit_writes_a_checkpoint(hub_home: Path) -> None:
    code = (
        "from onesource.exchange.audit import AuditLog, AuditRecord\n"
        "from onesource.store import Store\n"
        "log = AuditLog(Store.open().engine)\n"
        "for i in range(3):\n"
        "    log.submit(AuditRecord('edu', '/x', 'GET', 'ok', 200)).result(10)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    lines = (hub_home / "audit" / "checkpoints.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["seq"] == 3  # the last entry is anchored: no window left


def test_switching_the_hash_keeps_the_log_verifiable(
    hub_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries name their hash: sha256 entries, then sm3 ones, verify under either setting."""
    AuditLog(Store.open().engine).append_many([_record(i) for i in range(3)])
    monkeypatch.setenv("ONESOURCE_AUDIT_HASH", "sm3")
    log = AuditLog(Store.open().engine)
    log.append_many([_record(i) for i in range(3, 6)])
    chains = [e["chain"].split(":")[0] for e in sorted(log.query(limit=10), key=lambda e: e["seq"])]
    assert chains == ["hmac-sha256"] * 3 + ["hmac-sm3"] * 3
    check = log.verify()
    assert check.ok, check.reason
    monkeypatch.setenv("ONESOURCE_AUDIT_HASH", "sha256")
    assert AuditLog(Store.open().engine).verify().ok
    with log.engine.begin() as conn:  # a marker naming another key is still refused
        conn.execute(sa.text("UPDATE audit_log SET chain = 'hmac-sm3:000000000000' WHERE seq = 5"))
    assert not AuditLog(Store.open().engine).verify().ok
