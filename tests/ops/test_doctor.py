"""``onesource doctor`` through the installed script: exit 0 when nothing fails, 1 when a
check fails (or warns, with --strict), and each check's failure named in the output.

One healthy home (migrated DB, keys made); a broken copy of it fails every check that
can fail here at once (one run); an unreachable database is its own run.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.cli.harness import Hub, free_port


def _make_keys(home: Path) -> None:
    from onesource.exchange.keyfiles import ed25519_private, secret_key

    keys = home / "keys"
    for name in ("audit-chain.key", "request-signing.key"):
        secret_key(env_value=None, path=None, default_path=keys / name, create=True, what=name)
    ed25519_private(keys / "audit-checkpoint.pem", create=True)


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Hub:
    hub = Hub.create(tmp_path_factory.mktemp("doctor") / "ok")
    _make_keys(hub.home)
    from alembic import command

    from onesource.store.db import alembic_config

    command.upgrade(alembic_config(hub.env["ONESOURCE_DB_URL"]), "head")
    return hub


def _doctor(hub: Hub, *args: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    out = hub.run("doctor", "--json", *args)
    data = json.loads(out.stdout)
    assert data["ok"] is (out.returncode == 0), out.stdout
    return out.returncode, {c["name"]: c for c in data["checks"]}, out.stdout


def test_a_healthy_home_passes_and_strict_fails_on_warnings(healthy: Hub) -> None:
    plain = healthy.run("doctor")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "doctor: ok (0 failed" in plain.stdout and "│ database" in plain.stdout
    # free space between the limit and 4x the limit: a warning, which only --strict fails
    limit = shutil.disk_usage(healthy.home).free // 2**20 // 2
    tight = Hub(
        healthy.home, healthy.catalog, {**healthy.env, "ONESOURCE_DOCTOR_MIN_FREE_MB": str(limit)}
    )
    code, checks, out = _doctor(tight)
    assert code == 0 and checks["disk home+warehouse+database"]["status"] == "warn", out
    others = [c for name, c in checks.items() if not name.startswith("disk")]
    assert all(c["status"] in ("ok", "skip") for c in others), out
    assert checks["airflow"]["status"] == "skip"
    code, _, out = _doctor(tight, "--strict")
    assert code == 1, out


def test_every_failing_check_is_named(healthy: Hub, tmp_path: Path) -> None:
    home = tmp_path / "broken"
    shutil.copytree(healthy.home, home)
    afile = tmp_path / "a-file"
    afile.write_text("not a folder")
    (tmp_path / "catalog").mkdir()  # no departments.yaml
    hub = Hub.create(
        home,
        catalog=tmp_path / "catalog",
        ONESOURCE_WAREHOUSE=str(afile / "warehouse"),
        ONESOURCE_AUDIT_CHECKPOINTS=str(afile / "checkpoints.jsonl"),
        ONESOURCE_AIRFLOW_URL=f"http://127.0.0.1:{free_port()}",
        ONESOURCE_DOCTOR_MIN_FREE_MB=str(10**12),
    )
    with sqlite3.connect(home / "onesource.db") as db:  # an older hub's schema
        db.execute("UPDATE alembic_version SET version_num = '0003'")
    os.chmod(home / "keys" / "audit-chain.key", 0o644)
    other = tmp_path / "other.pem"  # a public key that is not the signing key's
    from onesource.exchange.keyfiles import ed25519_private

    ed25519_private(other, create=True)
    shutil.copyfile(other.with_name("other.pem.pub"), home / "keys" / "audit-checkpoint.pem.pub")

    code, checks, out = _doctor(hub)
    assert code == 1, out
    expect = {
        "database": "is at revision 0003",
        "warehouse": "is not writable",
        "key audit_chain": "chmod 600",
        "key audit_public": "is not the public half",
        "checkpoints": "cannot be created",
        "catalog": "departments.yaml",
        "airflow": "is not reachable",
        "disk home+warehouse+database": "below",
    }
    for name, needle in expect.items():
        assert checks[name]["status"] == "fail", (name, checks.get(name))
        assert needle in checks[name]["detail"], (name, checks[name])


def test_an_unreachable_database_fails(healthy: Hub, tmp_path: Path) -> None:
    hub = Hub.create(
        tmp_path / "h", ONESOURCE_DB_URL=f"postgresql+psycopg://x@127.0.0.1:{free_port()}/none"
    )
    code, checks, out = _doctor(hub)
    assert code == 1 and checks["database"]["status"] == "fail", out
    assert "is not reachable" in checks["database"]["detail"]
    assert "x@127.0.0.1" in checks["database"]["detail"]


@pytest.mark.parametrize(
    ("skew", "status"), [(0.3, "ok"), (-12.0, "warn"), (400.0, "fail")], ids=str
)
def test_clock_verdicts(skew: float, status: str) -> None:
    from onesource.ops.doctor import DoctorSettings, clock_check

    assert clock_check(skew, DoctorSettings(), "the PostgreSQL server").status == status


@pytest.mark.services
def test_clock_against_postgresql(healthy: Hub, postgres_url: str, tmp_path: Path) -> None:
    hub = Hub.create(tmp_path / "pg", ONESOURCE_DB_URL=postgres_url)
    _code, checks, out = _doctor(hub)
    assert checks["clock"]["status"] == "ok", out
    assert "against the PostgreSQL server" in checks["clock"]["detail"]
