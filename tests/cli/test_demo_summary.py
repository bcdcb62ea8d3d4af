"""``make demo`` prints each DAG result once (as it finishes); the summary only counts them."""

from __future__ import annotations

from dataclasses import dataclass

from onesource.orchestration.demo_run import DemoSummary


@dataclass
class _Run:
    dag_id: str
    ok: bool

    def __str__(self) -> str:
        return f"{self.dag_id}: {'success' if self.ok else 'failed'} (12 quarantined)"


def test_summary_does_not_repeat_the_dag_lines() -> None:
    summary = DemoSummary(
        rows=[
            _Run("ingest_students", True),
            _Run("ingest_appointments", False),
            "release_x: not due",
        ],
        airflow_home="/h/airflow",
        warehouse="/h/warehouse",
    )
    text = str(summary)
    assert "ingest_students: success" not in text and "release_x: not due" not in text
    assert text.splitlines()[0] == "2 DAG runs, 1 failed (ingest_appointments)"
