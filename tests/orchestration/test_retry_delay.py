"""``ONESOURCE_RETRY_DELAY_S``: the first retry's delay of the generated tasks (read at parse time)."""

from __future__ import annotations

import datetime as dt

import pytest

from onesource.orchestration.airflow_dags import first_retry_delay
from schemas.errors import ConfigError


def test_the_first_retry_delay_defaults_to_a_minute_and_follows_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ONESOURCE_RETRY_DELAY_S", raising=False)
    assert first_retry_delay() == dt.timedelta(minutes=1)
    monkeypatch.setenv("ONESOURCE_RETRY_DELAY_S", "1.5")
    assert first_retry_delay() == dt.timedelta(seconds=1.5)


def test_a_retry_delay_that_is_not_a_number_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONESOURCE_RETRY_DELAY_S", "1 min")
    with pytest.raises(ConfigError, match="ONESOURCE_RETRY_DELAY_S='1 min'"):
        first_retry_delay()
