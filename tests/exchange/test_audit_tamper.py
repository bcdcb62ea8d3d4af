"""Attacks on the audit log by someone with write access to the metadata DB only.

The attacker knows the chain's construction (it is documented) but holds neither the
chain key nor the checkpoint signing key, which live outside the database.  No test
remembers a head: ``onesource audit verify`` (the installed command, in a subprocess)
must find every rewrite from the database and the signed checkpoints alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from onesource.exchange.audit import AuditLog, AuditRecord, canonical
from onesource.store import Store

REPO = Path(__file__).resolve().parents[2]
ONESOURCE = str(Path(sys.executable).parent / "onesource")
COLUMNS = (
    "seq",
    "at",
    "department",
    "endpoint",
    "method",
    "resource",
    "fields",
    "purpose",
    "result",
    "status_code",
    "row_count",
    "duration_ms",
)


def _record(i: int, dept: str = "edu") -> AuditRecord:
    return AuditRecord(
        department=dept,
        endpoint="/api/exchange/resources/{name}/rows",
        method="GET",
        result="ok",
        status_code=200,
        resource="population_register",
        fields=["name"],
        purpose="入学审核",
        row_count=i,
        duration_ms=1.0,
    )


@pytest.fixture
def log(hub_home: Path, monkeypatch: pytest.MonkeyPatch) -> AuditLog:
    monkeypatch.setenv("ONESOURCE_AUDIT_CHECKPOINT_EVERY", "5")
    log = AuditLog(Store.open().engine)
    for i in range(12):  # one by one, as requests arrive: checkpoints at 5 and 10
        log.append(_record(i))
    return log


def _rows(log: AuditLog) -> list[dict[str, Any]]:
    return sorted(log.query(limit=10_000), key=lambda r: r["seq"])


def _forge(log: AuditLog, rows: list[dict[str, Any]], *, chain: object = "keep") -> None:
    """Replace the whole table with ``rows``, renumbered and chained the documented way
    (SHA-256 over the previous hash and the canonical entry): what a DB-only attacker can do."""
    prev = "0" * 64
    out = []
    for n, row in enumerate(rows, start=1):
        entry = {k: row[k] for k in COLUMNS}
        entry["seq"] = n
        digest = hashlib.sha256((prev + canonical(entry)).encode()).hexdigest()
        stored = {**entry, "prev_hash": prev, "hash": digest}
        if "chain" in row:
            stored["chain"] = row["chain"] if chain == "keep" else chain
        out.append(stored)
        prev = digest
    table = sa.Table("audit_log", sa.MetaData(), autoload_with=log.engine)
    with log.engine.begin() as conn:
        conn.execute(table.delete())
        if out:
            conn.execute(table.insert(), out)


def _verify(hub_home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONESOURCE_")}
    env.update(ONESOURCE_HOME=str(hub_home), ONESOURCE_CATALOG=str(REPO / "catalog"))
    return subprocess.run(
        [ONESOURCE, "audit", "verify", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _modify(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows[3]["department"] = "psb"
    return rows


def _delete_middle(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return rows[:4] + rows[5:]


def _reorder(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows[2], rows[6] = rows[6], rows[2]
    return rows


def _insert(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    fake = {**rows[1], "department": "civil", "resource": "social_assistance"}
    return rows[:2] + [fake] + rows[2:]


def _truncate_tail(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return rows[:-4]  # past the checkpoint at seq 10


def _forge_tail(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return rows[:-3] + [{**rows[-1], "department": "hrss", "row_count": 10_000}]


def _wipe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return []


ATTACKS: dict[str, Callable[[list[dict[str, Any]]], list[dict[str, Any]]]] = {
    "modify": _modify,
    "delete-middle": _delete_middle,
    "reorder": _reorder,
    "insert": _insert,
    "truncate-tail": _truncate_tail,
    "forge-tail": _forge_tail,
    "wipe": _wipe,
}


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_rechained_rewrite_is_found_without_a_remembered_head(
    log: AuditLog, hub_home: Path, attack: str
) -> None:
    assert _verify(hub_home).returncode == 0
    _forge(log, ATTACKS[attack](_rows(log)))
    out = _verify(hub_home)
    assert out.returncode == 1, out.stdout + out.stderr
    assert json.loads(out.stdout)["ok"] is False


@pytest.mark.parametrize("attack", ["modify", "forge-tail"], ids=["modify", "forge-tail"])
def test_rewrite_posing_as_the_old_unkeyed_chain_is_found(
    log: AuditLog, hub_home: Path, attack: str
) -> None:
    """Marking forged entries as entries of the original (unkeyed) chain does not help."""
    _forge(log, ATTACKS[attack](_rows(log)), chain=None)
    out = _verify(hub_home)
    assert out.returncode == 1, out.stdout + out.stderr


def test_plain_truncation_past_a_checkpoint_is_found(log: AuditLog, hub_home: Path) -> None:
    with log.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq > 9"))
    out = _verify(hub_home)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "truncat" in json.loads(out.stdout)["reason"]


def _verify_env(hub_home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ONESOURCE_")}
    base.update(ONESOURCE_HOME=str(hub_home), ONESOURCE_CATALOG=str(REPO / "catalog"), **env)
    return subprocess.run(
        [ONESOURCE, "audit", "verify", "--json", *args],
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("attack", ["modify", "truncate-tail", "wipe"])
def test_legacy_rewrite_with_checkpoints_deleted_is_found(
    log: AuditLog, hub_home: Path, attack: str
) -> None:
    """forge_legacy.py: the checkpoint store gone, the DB rewritten as the unkeyed chain."""
    (hub_home / "audit" / "checkpoints.jsonl").unlink()
    rows = ATTACKS[attack](_rows(log))
    _forge(log, rows, chain=None)
    out = _verify_env(hub_home)
    assert out.returncode == 1, out.stdout + out.stderr
    assert json.loads(out.stdout)["ok"] is False


def test_truncated_keyed_log_with_checkpoints_deleted_is_found(
    log: AuditLog, hub_home: Path
) -> None:
    """truncate_tail.py: no checkpoint of this log left, the keyed tail cut."""
    (hub_home / "audit" / "checkpoints.jsonl").unlink()
    with log.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq > 3"))
    out = _verify_env(hub_home)
    assert out.returncode == 1, out.stdout + out.stderr
    assert json.loads(out.stdout)["kind"] == "checkpoint"


def test_only_other_logs_checkpoints_is_a_finding(log: AuditLog, hub_home: Path) -> None:
    out = _verify_env(hub_home, ONESOURCE_AUDIT_LOG_ID="some-other-log")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "other logs" in json.loads(out.stdout)["reason"]


def test_log_id_does_not_depend_on_how_the_url_is_spelled(log: AuditLog, hub_home: Path) -> None:
    db = (hub_home / "onesource.db").resolve()
    assert _verify_env(hub_home).returncode == 0
    other = f"sqlite:///{db.parent}/./{db.name}"
    out = _verify_env(hub_home, ONESOURCE_DB_URL=other)
    assert out.returncode == 0, out.stdout + out.stderr


def test_legacy_entries_need_the_operators_acknowledgement(log: AuditLog, hub_home: Path) -> None:
    (hub_home / "audit" / "checkpoints.jsonl").unlink()
    (hub_home / "keys" / "audit-chain.key").unlink()  # a hub from before keyed chains
    _forge(log, _rows(log), chain=None)
    refused = _verify_env(hub_home)
    assert refused.returncode == 1 and json.loads(refused.stdout)["kind"] == "legacy"
    assert _verify_env(hub_home, "--accept-legacy", "11").returncode == 1
    ok = _verify_env(hub_home, "--accept-legacy", "12")
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_a_type_altered_row_is_a_finding_not_a_crash(log: AuditLog, hub_home: Path) -> None:
    with log.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET department = X'00ff' WHERE seq = 4"))
    out = _verify_env(hub_home)
    assert out.returncode == 1, out.stdout + out.stderr
    result = json.loads(out.stdout)  # still JSON
    assert result["ok"] is False and result["kind"] == "altered"
    assert result["first_bad_seq"] == 4
