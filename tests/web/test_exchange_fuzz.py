"""Schemathesis against the exchange's OpenAPI spec: hostile input never gets a 5xx."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.exchange.fixtures import make_hub

EXAMPLES = 15  # per operation and mode: ~16 operations x 2 modes in ~10 s


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_server_errors_for_generated_requests(hub_home: Path, mode: str) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable

    hub = make_hub()
    schema = schemathesis.openapi.from_asgi("/openapi.json", hub.app)
    generation = schemathesis.GenerationMode(mode)
    headers = {"Authorization": f"Bearer {hub.keys['psb']}"}
    failures: list[str] = []
    unsatisfiable: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert any("/api/exchange/verify" in op.label for op in operations)
    for op in operations:

        @given(op.as_strategy(generation))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            resp = case.call(headers=headers)
            if resp.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {resp.status_code} {resp.text[:200]}"
                )

        try:
            check()
        except Unsatisfiable:
            # an operation without inputs (e.g. /data.json) has no negative cases to generate
            assert mode == "negative", op.label
            unsatisfiable.append(op.label)
    assert not failures, "\n".join(failures[:10])
    assert len(unsatisfiable) < len(operations) / 2, unsatisfiable
