"""``onesource user``: misuse exits 1 or 2 with a message, through the installed script
(the documented happy path runs in tests/cli/test_documented_commands.py); the account
book's refusals in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.harness import Hub
from tests.console.conftest import World


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Hub:
    return Hub.create(tmp_path_factory.mktemp("user-cli"))


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["--role", "officer"], "long enough secret\n", 1, "belong to a department"),
        (["--role", "king"], "", 2, "'king' is not one of"),
        (["--role", "steward"], "short\n", 1, "password too short"),
    ],
    ids=["officer-without-department", "unknown-role", "short-password"],
)
def test_user_add_misuse(cli: Hub, args: list[str], stdin: str, code: int, message: str) -> None:
    r = cli.run("user", "add", "x.y", *args, "--password-stdin", input=stdin)
    assert r.returncode == code, r.stdout + r.stderr
    assert message in (r.stdout + r.stderr)


def test_account_book_refusals(world: World) -> None:
    from onesource.web.console.accounts import AccountBook, AccountError

    book = AccountBook(world.hub.store.engine)
    with pytest.raises(AccountError, match="exists"):
        book.add("edu.officer", ["officer"], "edu", password="long enough secret")
    with pytest.raises(AccountError, match="bad account name"):
        book.add("../root", ["steward"], password="long enough secret")
    with pytest.raises(AccountError, match="no account"):
        book.disable("nobody.here")
    with pytest.raises(AccountError, match="unknown department 'nowhere'"):
        book.add(
            "x.y", ["officer"], "nowhere", password="long enough secret", known_departments=["edu"]
        )


def test_password_stdin_reads_one_line(tmp_path: Path) -> None:
    import io

    from onesource.web.console.accounts import read_password_stdin
    from schemas.errors import ConfigError

    assert read_password_stdin(io.StringIO("p a s s w o r d\r\nnext\n")) == "p a s s w o r d"
    with pytest.raises(ConfigError):
        read_password_stdin(io.StringIO(""))
