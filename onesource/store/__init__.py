"""The storage layer: metadata DB (runs, versions, pointers) + Parquet warehouse.

Every pipeline step writes through ``Store``; a version becomes visible only
when its pointer moves in the metadata DB.  See ``onesource.store.store``.
"""

from __future__ import annotations

from onesource.store.collector import GcReport
from onesource.store.errors import (
    CommitConflictError,
    RunStateError,
    StaleBaseError,
    StoreError,
    VersionNotFoundError,
    WriterSchemaError,
)
from onesource.store.increments import ManifestEntry
from onesource.store.records import RunInfo, VersionInfo, new_id
from onesource.store.runs import RunHandle
from onesource.store.store import Store
from onesource.store.warehouse import (
    Warehouse,
    WarehouseError,
    WarehouseFullError,
    WarehousePermissionError,
)
from onesource.store.writer import RunFileWriter, VersionWriter

__all__ = [
    "CommitConflictError",
    "GcReport",
    "ManifestEntry",
    "RunFileWriter",
    "RunHandle",
    "RunInfo",
    "RunStateError",
    "StaleBaseError",
    "Store",
    "StoreError",
    "VersionInfo",
    "VersionNotFoundError",
    "VersionWriter",
    "Warehouse",
    "WarehouseError",
    "WarehouseFullError",
    "WarehousePermissionError",
    "WriterSchemaError",
    "new_id",
]
