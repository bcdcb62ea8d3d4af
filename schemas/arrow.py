"""Arrow schemas pinned from the catalog (never inferred from data)."""

from __future__ import annotations

import pyarrow as pa

from schemas.catalog import Catalog
from schemas.resource import FieldSpec, Resource


def field_type(catalog: Catalog, spec: FieldSpec) -> pa.DataType:
    """Arrow type of one resource field, from its element or its own description."""
    element = catalog.field_element(spec)
    if element is not None:
        return element.type.arrow(element.precision, element.scale)
    assert spec.type is not None
    return spec.type.arrow()


def resource_schema(catalog: Catalog, resource: Resource) -> pa.Schema:
    """The Arrow schema of a resource's curated data, with catalog metadata on each field."""
    fields = []
    for name, spec in resource.fields.items():
        element = catalog.field_element(spec)
        meta = {
            "element": spec.element or "",
            "title": (element.name if element else spec.name) or name,
            "pii": (p.value if (p := catalog.field_pii(spec)) is not None else "unclassified"),
        }
        nullable = not (spec.required or name in resource.primary_key)
        fields.append(pa.field(name, field_type(catalog, spec), nullable=nullable, metadata=meta))
    return pa.schema(fields, metadata={"resource": resource.name, "provider": resource.provider})
