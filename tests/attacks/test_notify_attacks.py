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


ID_NUMBER = "110101199003071234"  # a citizen's identity number: the key of population_register
OBSERVED = "朝阳区幸福路 1 号"


def _objection(**over: object):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from onesource.store.console_models import Objection

    now = datetime.now(UTC)
    fields: dict[str, object] = {
        "id": "ob_attack1",
        "raised_by": "edu",
        "source_department": "psb",
        "resource": "population_register",
        "record_key": {"id_number": ID_NUMBER},
        "field": "address",
        "observed": OBSERVED,
        "expected": "朝阳区幸福路 2 号",
        "reason": f"{ID_NUMBER} 的住址与学籍登记不一致",
        "status": "open",
        "raised_at": now - timedelta(days=30),
        "due_at": now - timedelta(days=1),
        "answer": f"已核实 {ID_NUMBER} 住址为 {OBSERVED}",
        **over,
    }
    return Objection(**fields)


def test_objection_alerts_carry_no_record_key_or_value(tmp_path: Path) -> None:
    """Attack: an objection on a person's record: its key (the identity number), the values
    and the free texts went into alerts, i.e. into every webhook's chat room."""
    import json
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from onesource.notify import notices
    from onesource.notify.checks import overdue_objections
    from onesource.store.db import migrate, session

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    migrate(url)
    engine = sa.create_engine(url)
    with session(engine, write=True) as ses:
        ses.add(_objection())
    alerts = [
        *overdue_objections(engine, datetime.now(UTC)),
        notices.objection_new(_objection()),
        notices.objection_answered(_objection(status="rejected")),
        notices.objection_answered(_objection(status="corrected", corrected_version=3)),
    ]
    engine.dispose()
    assert len(alerts) == 4
    for alert in alerts:
        sent = json.dumps(alert.to_dict(), ensure_ascii=False)
        assert ID_NUMBER not in sent and OBSERVED not in sent, alert.kind
        assert "ob_attack1" in alert.text and "/console/objections/ob_attack1" in alert.text
