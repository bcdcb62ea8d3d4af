"""Department keys: hashed at rest, revocable, rotatable."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from onesource.exchange.errors import AuthInvalidError, UnknownError
from onesource.exchange.keys import KeyRing
from onesource.store import Store


@pytest.fixture
def ring(hub_home: Path) -> KeyRing:
    return KeyRing(Store.open().engine, cache_seconds=60)


def test_issue_authenticates_and_stores_only_a_hash(ring: KeyRing) -> None:
    issued = ring.issue("edu")
    assert ring.authenticate(issued.key) == "edu"
    secret = issued.key.split("_", 2)[2]
    with ring.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT key_hash, key_prefix FROM department_keys")).one()
    assert secret not in stored.key_hash and issued.key not in stored.key_hash
    assert stored.key_prefix == issued.info.prefix


@pytest.mark.parametrize(
    "key",
    ["", "nonsense", "os__x", "os_abc_", "Bearer os_x_y", "os_" + "a" * 40 + "_x"],
    ids=["empty", "no-scheme", "no-prefix", "no-secret", "junk", "long-prefix"],
)
def test_malformed_keys_are_refused(ring: KeyRing, key: str) -> None:
    with pytest.raises(AuthInvalidError):
        ring.authenticate(key)


def test_wrong_secret_with_a_real_prefix_is_refused(ring: KeyRing) -> None:
    issued = ring.issue("edu")
    with pytest.raises(AuthInvalidError):
        ring.authenticate(f"os_{issued.info.prefix}_wrongsecret")


def test_revoke_applies_at_once_despite_the_cache(ring: KeyRing) -> None:
    issued = ring.issue("psb")
    assert ring.authenticate(issued.key) == "psb"
    ring.revoke("psb", issued.info.prefix)
    with pytest.raises(AuthInvalidError):
        ring.authenticate(issued.key)
    with pytest.raises(UnknownError, match="known key prefixes"):
        ring.revoke("edu", issued.info.prefix)  # not edu's key


def test_rotate_revokes_older_keys(ring: KeyRing) -> None:
    old = ring.issue("civil")
    new, revoked = ring.rotate("civil")
    assert [k.id for k in revoked] == [old.info.id]
    assert ring.authenticate(new.key) == "civil"
    with pytest.raises(AuthInvalidError):
        ring.authenticate(old.key)


def test_cli_issue_list_revoke_and_unknown_department(hub_home: Path) -> None:
    from onesource.cli.main import app

    runner = CliRunner()
    issued = runner.invoke(app, ["dept", "key", "issue", "edu"])
    assert issued.exit_code == 0, issued.output
    key = issued.output.strip().splitlines()[-1]
    assert key.startswith("os_")
    prefix = key.split("_")[1]
    listed = runner.invoke(app, ["dept", "key", "list", "edu", "--json"])
    assert prefix in listed.output and key not in listed.output
    assert runner.invoke(app, ["dept", "key", "revoke", "edu", prefix]).exit_code == 0
    bad = runner.invoke(app, ["dept", "key", "issue", "nosuch"])
    assert bad.exit_code != 0
    assert "psb" in str(bad.exception)  # the error lists the known departments
