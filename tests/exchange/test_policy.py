"""The access policy over the demo catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from onesource.catalog.compiled import load_compiled
from onesource.exchange.policy import resource_access
from schemas.catalog import Catalog

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_compiled(REPO / "catalog")


def test_owner_reads_every_field(catalog: Catalog) -> None:
    res = catalog.resources["social_assistance"]
    acc = resource_access(catalog, res, "civil")
    assert acc.level == "own" and acc.readable == list(res.fields)


def test_conditional_needs_a_grant_and_gives_only_granted_fields(catalog: Catalog) -> None:
    res = catalog.resources["population_register"]
    assert resource_access(catalog, res, "edu").readable == []
    acc = resource_access(catalog, res, "edu", frozenset({"name", "household_division"}))
    assert acc.level == "granted"
    assert acc.readable == ["name", "household_division"]
    assert acc.lookup == []  # the key field is not granted: no lookups by it (issue 13)
    keyed = resource_access(catalog, res, "edu", frozenset({"name", "id_number"}))
    assert "id_number" in keyed.lookup


@pytest.mark.parametrize(
    "granted", [frozenset(), frozenset({"family_situation", "name"})], ids=["none", "granted"]
)
def test_none_field_never_readable_or_verifiable(catalog: Catalog, granted: frozenset[str]) -> None:
    res = catalog.resources["social_assistance"]
    acc = resource_access(catalog, res, "hrss", granted)
    assert "family_situation" not in acc.readable
    assert "family_situation" not in acc.verifiable


def test_unconditional_resource_is_readable_by_anyone(catalog: Catalog) -> None:
    acc = resource_access(catalog, catalog.resources["service_ratings"], "edu")
    assert acc.level == "unconditional" and "score" in acc.readable


def test_verify_method_needs_a_grant_and_never_reads(catalog: Catalog) -> None:
    """Verifying is reading a field's truth: without a grant, no verification either."""
    res = catalog.resources["graduates"]
    acc = resource_access(catalog, res, "hrss")
    assert acc.readable == [] and acc.verifiable == []
    granted = resource_access(catalog, res, "hrss", frozenset({"education_level"}))
    assert granted.readable == [] and granted.verifiable == ["education_level"]
