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


def _flood_then_lookups(ring: KeyRing, flood: int) -> None:
    issued = ring.issue("edu")
    assert ring.authenticate(issued.key) == "edu"
    for i in range(flood):
        with pytest.raises(AuthInvalidError):
            ring.authenticate(f"os_{i:08x}_guess")
    lookups = []
    listener = lambda *args: lookups.append(args[2])  # noqa: E731
    sa.event.listen(ring.engine, "before_cursor_execute", listener)
    try:
        assert ring.authenticate(issued.key) == "edu"
    finally:
        sa.event.remove(ring.engine, "before_cursor_execute", listener)
    assert not [s for s in lookups if "department_keys" in s and "SELECT" in s]


def test_a_key_guessing_flood_does_not_evict_legitimate_keys(
    ring: KeyRing, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown prefixes are cached apart (bounded); the real keys stay cached."""
    from onesource.exchange import keys

    monkeypatch.setattr(keys, "UNKNOWN_CACHE_SIZE", 64)
    _flood_then_lookups(KeyRing(ring.engine, cache_seconds=60), 200)


@pytest.mark.slow
def test_a_flood_past_the_old_10k_reset_keeps_legitimate_keys(ring: KeyRing) -> None:
    """The cache used to clear itself completely past 10,000 entries."""
    _flood_then_lookups(ring, 10_050)
