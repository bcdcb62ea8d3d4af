"""Attacks on alert e-mail: header injection through an address or a title.

Python's e-mail policy refuses a header with CR/LF, but it did so with a ValueError
raised outside ``send_email``'s error handling: one bad value ended the whole alert run
(every later alert unsent) instead of failing that one delivery.  Addresses in
notify.yaml are checked when the file is read, naming where the bad one is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from onesource.notify.channels import DeliveryError, send_email
from onesource.notify.config import SmtpConfig, load_config
from schemas.errors import ConfigError
from tests.notify.servers import smtp_server

INJECTED = "ops@example.org\r\nBcc: spy@evil.example"


@pytest.mark.parametrize(
    ("yaml_text", "where"),
    [
        (f'operators: ["{INJECTED.encode("unicode_escape").decode()}"]', "operators.0"),
        ("operators: ['ops@example.org, spy@evil.example']", "operators.0"),
        ("departments: {grid: {emails: [ok@example.org, 'a@b.c\\nBcc: x@y.z']}}", "grid"),
        ("departments: {grid: {emails: ['grid@example.org\\nBcc: x@y.z']}}", "emails.0"),
    ],
)
def test_notify_yaml_refuses_addresses_that_are_not_one_address(
    tmp_path: Path, yaml_text: str, where: str
) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError, match="e-mail address") as err:
        load_config(path)
    assert where in str(err.value)


def test_a_title_with_a_line_break_fails_that_delivery_only() -> None:
    with smtp_server() as (port, box):
        smtp = SmtpConfig(host="127.0.0.1", port=port, sender="hub@example.org")
        with pytest.raises(DeliveryError, match="line break"):
            send_email(smtp, ["ops@example.org"], "[OneSource] x\r\nBcc: spy@evil.example", "t")
        with pytest.raises(DeliveryError, match="line break"):
            send_email(smtp, [INJECTED], "[OneSource] ok", "t")
        send_email(smtp, ["ops@example.org"], "[OneSource] ok", "t")
        assert [rcpt for rcpt, _ in box.messages] == [["ops@example.org"]]
