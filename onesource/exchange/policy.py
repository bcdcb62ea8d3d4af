"""Who may read and verify what: the catalog's share classes applied to one department.

- the owning department reads and verifies every field of its own resources;
- an ``unconditional`` field: any authenticated department;
- a ``conditional`` field: only with an active grant naming it.  Verifying a
  claim about a field is a read of that field's truth, so it needs the same
  grant as reading it.  When the resource's ``share_method`` is ``verify``
  (shared by verification only), a grant lets the holder *verify* (yes/no) the
  fields it names, never read them;
- a ``none`` field (or one whose element is on the negative list): never,
  neither read nor verified, whatever a grant says.

Key fields (the primary key and ``unique`` fields) may be used to look a
record up (filters, verification keys) only by a department entitled to that
field itself (the owner, an ``unconditional`` field, or a grant covering it):
with a grant on ``name`` alone, enumerating ``id_number`` keys against a known
name would recover the id_number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.catalog import Catalog
from schemas.resource import Resource
from schemas.vocab import ShareClass, ShareMethod


@dataclass(frozen=True)
class ResourceAccess:
    """What one department may do with one resource right now."""

    resource: str
    provider: str
    level: str  # own | unconditional | granted | conditional | none
    readable: list[str]
    verifiable: list[str]
    lookup: list[str]
    classes: dict[str, str] = field(default_factory=dict)
    grant_until: datetime | None = None

    @property
    def any_access(self) -> bool:
        return bool(self.readable or self.verifiable)


def negative_elements(catalog: Catalog) -> frozenset[str]:
    """Elements on the negative list (never shared)."""
    return frozenset(e.element for e in catalog.negative_list.entries)


def field_classes(catalog: Catalog, res: Resource) -> dict[str, ShareClass]:
    """Each field's effective share class, the negative list applied."""
    banned = negative_elements(catalog)
    out = {}
    for name, spec in res.fields.items():
        cls = res.effective_share(name)
        if spec.element is not None and spec.element in banned:
            cls = ShareClass.none
        out[name] = cls
    return out


def key_fields(res: Resource) -> list[str]:
    """Fields that identify a record: the primary key, then ``unique`` fields."""
    keys = list(res.primary_key)
    keys += [n for n, s in res.fields.items() if s.unique and n not in keys]
    return keys


def resource_access(
    catalog: Catalog,
    res: Resource,
    department: str,
    granted: frozenset[str] = frozenset(),
    grant_until: datetime | None = None,
) -> ResourceAccess:
    """Apply the policy to ``department`` holding grants on ``granted`` fields of ``res``."""
    classes = field_classes(catalog, res)
    names = list(res.fields)
    shown = {k: v.value for k, v in classes.items()}
    if department == res.provider:
        return ResourceAccess(
            res.name, res.provider, "own", names, names, key_fields(res), shown, None
        )
    open_ = [n for n in names if classes[n] is ShareClass.unconditional]
    granted_now = [n for n in names if classes[n] is ShareClass.conditional and n in granted]
    verifiable = [n for n in names if n in open_ or n in granted_now]
    readable = list(verifiable)
    if res.share_method is ShareMethod.verify:  # verification only: a grant never reads
        readable = [n for n in names if n in open_]
    # a key field names a record only for a caller entitled to that field (unconditional, or
    # granted): else a known claim plus enumerated keys would recover the key (issue 13)
    lookup = [k for k in key_fields(res) if k in verifiable]
    if granted_now:
        level = "granted"
    elif open_:
        level = "unconditional"
    elif any(c is ShareClass.conditional for c in classes.values()):
        level = "conditional"
    else:
        level = "none"
    until = grant_until if granted_now else None
    if not readable and not verifiable:
        lookup = []
    return ResourceAccess(res.name, res.provider, level, readable, verifiable, lookup, shown, until)


def requestable_fields(catalog: Catalog, res: Resource) -> list[str]:
    """Fields a grant can cover: the conditional ones."""
    return [n for n, c in field_classes(catalog, res).items() if c is ShareClass.conditional]
