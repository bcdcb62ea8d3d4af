"""Fixtures of the exchange API tests: the demo hub of two departments and a client of its app."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

# tests/web has no package of its own: make the repo root importable for the shared helpers
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.exchange.fixtures import Hub, make_hub


@pytest.fixture
def hub(hub_home: Path) -> Hub:
    return make_hub()


@pytest.fixture
def client(hub: Hub) -> TestClient:
    """A client of the hub's web app (shadows the session-wide portal ``client`` here)."""
    return TestClient(hub.app)
