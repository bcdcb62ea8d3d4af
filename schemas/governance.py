"""Field-level governance: nothing is more open than its inputs.

- A release column whose field is ``share_class: none`` (or whose element is
  on the negative list) never reaches a release, whatever the technique.
- In an ``open`` release, a column whose field is ``conditional`` must be
  de-identified: ``drop``, ``pseudonymize``, ``generalize``, or counted in
  an ``aggregate`` release.  ``keep``, ``mask`` and ``top_bottom_code``
  publish the value itself (or most of it), so they need an explicit
  ``open_exception`` with reason and basis, which validation shows as a
  notice.
- A field's share class is the stricter of its own (field override, else
  its resource's) and that of its element at the element's source
  resource: a copy of a conditional element is conditional wherever it is
  carried (one data, one source).
"""

from __future__ import annotations

from schemas.catalog import Catalog, Findings
from schemas.quality import InSetRule
from schemas.release import Release, ReleaseColumn
from schemas.resource import Resource
from schemas.vocab import OpenClass, ReleaseKind, ShareClass, Technique

DE_IDENTIFYING = (Technique.drop, Technique.pseudonymize, Technique.generalize)


def element_share(cat: Catalog, element_id: str | None) -> ShareClass | None:
    """The share class of an element at its source resource (None: unknown)."""
    if not element_id:
        return None
    src = cat.source_resource(element_id)
    if src is None:
        return None
    classes = [src.effective_share(n) for n, f in src.fields.items() if f.element == element_id]
    return min(classes, key=lambda c: c.rank) if classes else None


def field_share(cat: Catalog, res: Resource, field: str) -> tuple[ShareClass, str]:
    """(the stricter of the field's and its element's share class, where it comes from)."""
    own = res.effective_share(field)
    where = f"field {res.name}.{field}"
    el_id = res.fields[field].element
    at_source = element_share(cat, el_id)
    if at_source is not None and at_source.rank < own.rank:
        src = cat.source_resource(el_id or "")
        return at_source, f"element {el_id} at its source {src.name if src else '?'}"
    return own, where


def column_share(
    cat: Catalog, res: Resource | None, field: str, element_id: str | None
) -> tuple[ShareClass, str] | None:
    if res is not None:
        return field_share(cat, res, field) if field in res.fields else None
    share = element_share(cat, element_id)
    return (share, f"element {element_id}") if share is not None else None


def check_column(
    cat: Catalog,
    rel: Release,
    name: str,
    col: ReleaseColumn,
    res: Resource | None,
    field: str,
    element_id: str | None,
    banned: set[str],
    file: str,
    out: Findings,
) -> None:
    """Share-class findings for one release column (dropped columns are never checked)."""
    path = ("columns", name)
    if col.technique is Technique.drop:
        return
    found = column_share(cat, res, field, element_id)
    if found is None:
        return
    share, where = found
    if share is ShareClass.none:
        out.add(
            file,
            (*path, "source"),
            f"column {name!r} comes from {where}, whose share class is 'none' (不予共享): "
            "it can never reach a release",
            "drop the column, or change the share class where it is declared, with its legal basis",
            "unshared-field-released",
        )
        return
    if share is not ShareClass.conditional or rel.open_class is not OpenClass.open:
        return
    if rel.kind is ReleaseKind.aggregate or col.technique in DE_IDENTIFYING:
        return
    exc = col.open_exception
    if exc is not None and element_id not in banned:
        out.add(
            file,
            (*path, "open_exception"),
            f"column {name!r} publishes {where} (conditional sharing) unchanged "
            f"({col.technique.value!r}) in an open release by exception: {exc.reason} "
            f"[basis: {exc.basis}]",
            None,
            "open-exception",
            severity="notice",
        )
        return
    out.add(
        file,
        (*path, "technique"),
        f"column {name!r} comes from {where}, shared only on conditions; technique "
        f"{col.technique.value!r} publishes it unchanged in an open release",
        "use drop, pseudonymize or generalize, make the release restricted, or declare "
        "open_exception: {reason: ..., basis: ...}",
        "conditional-field-opened",
    )


def check_in_set(cat: Catalog, res: Resource, file: str, out: Findings) -> None:
    """``in_set`` values must be codes of the field's code list, when it has one."""
    for i, rule in enumerate(res.quality.rules):
        if not isinstance(rule, InSetRule) or rule.values is None or rule.field not in res.fields:
            continue
        spec = res.fields[rule.field]
        el = cat.field_element(spec)
        code_list = spec.code_list or (el.code_list if el else None)
        if code_list is None or code_list not in cat.code_lists:
            continue
        codes = set(cat.code_lists[code_list].codes)
        label: str | int = rule.name or i
        for j, value in enumerate(rule.values):
            if value not in codes:
                out.add(
                    file,
                    ("quality", "rules", label, "values", j),
                    f"value {value!r} is not a code of code list {code_list!r}, "
                    f"which field {rule.field!r} uses",
                    f"codes: {', '.join(sorted(codes)[:12])}"
                    + (" ..." if len(codes) > 12 else "")
                    + f"; or write code_list: {code_list}",
                    "in-set-unknown-code",
                )
