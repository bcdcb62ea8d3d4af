"""Rules checked across catalog files.  Every finding is returned, none raised."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from schemas import governance
from schemas.catalog import Catalog, Findings, Issue
from schemas.connector import FilesConnector, SqlConnector
from schemas.quality import InSetRule, UniqueRule
from schemas.release import CodeListHierarchy, Release, ReleaseColumn
from schemas.resource import Resource
from schemas.vocab import OpenClass, PiiClass, ReleaseKind, ShareClass, Technique


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    if len(known) <= 12:
        return "known: " + ", ".join(sorted(known)) if known else None
    return None


@dataclass(frozen=True)
class Broken:
    """What failed to load, so rules don't report its absence as a second error."""

    departments: bool = False
    elements: bool = False
    code_lists: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()  # file stems
    resource_departments: frozenset[str] = frozenset()  # folders holding a broken resource

    def skip_department(self, name: str) -> bool:
        return self.departments

    def skip_code_list(self, name: str) -> bool:
        return name in self.code_lists

    def skip_element(self, name: str) -> bool:
        return self.elements


def check(catalog: Catalog, broken: Broken | None = None) -> list[Issue]:
    """All cross-file findings, in a stable order; ``broken`` mutes follow-on errors."""
    out = Findings(broken or Broken())
    _elements(catalog, out)
    _resources(catalog, out)
    _one_source(catalog, out)
    _negative_list(catalog, out)
    for release in catalog.releases.values():
        _release(catalog, release, out)
    return out.issues


def _elements(cat: Catalog, out: Findings) -> None:
    for el in cat.elements.values():
        file = cat.origin("element", el.id)
        base = ("elements", el.id)
        if el.source not in cat.departments:
            out.add(
                file,
                (*base, "source"),
                f"unknown department {el.source!r}",
                did_you_mean(el.source, cat.departments),
                "unknown-department",
                subject=el.source,
            )
        if el.code_list and el.code_list not in cat.code_lists:
            out.add(
                file,
                (*base, "code_list"),
                f"unknown code list {el.code_list!r}",
                did_you_mean(el.code_list, cat.code_lists),
                "unknown-code-list",
                subject=el.code_list,
            )


def _resources(cat: Catalog, out: Findings) -> None:
    codes: dict[str, str] = {}
    for res in cat.resources.values():
        file = cat.origin("resource", res.name)
        if res.provider not in cat.departments:
            out.add(
                file,
                ("provider",),
                f"unknown department {res.provider!r}",
                did_you_mean(res.provider, cat.departments),
                "unknown-department",
                subject=res.provider,
            )
        if res.code in codes:
            out.add(
                file,
                ("code",),
                f"resource code {res.code!r} is already used by resource {codes[res.code]!r}",
                f"see {cat.origin('resource', codes[res.code])}; pick the next free sequence",
                "duplicate-code",
            )
        else:
            codes[res.code] = res.name
        for name, spec in res.fields.items():
            if spec.element and spec.element not in cat.elements:
                out.add(
                    file,
                    ("fields", name, "element"),
                    f"unknown element {spec.element!r}",
                    did_you_mean(spec.element, cat.elements),
                    "unknown-element",
                    subject=spec.element,
                )
            if spec.code_list and spec.code_list not in cat.code_lists:
                out.add(
                    file,
                    ("fields", name, "code_list"),
                    f"unknown code list {spec.code_list!r}",
                    did_you_mean(spec.code_list, cat.code_lists),
                    "unknown-code-list",
                    subject=spec.code_list,
                )
        _resource_refs(cat, res, file, out)
        governance.check_in_set(cat, res, file, out)


def _resource_refs(cat: Catalog, res: Resource, file: str, out: Findings) -> None:
    fields = res.fields

    def need(path: tuple[str | int, ...], name: str) -> None:
        if name not in fields:
            out.add(
                file, path, f"unknown field {name!r}", did_you_mean(name, fields), "unknown-field"
            )

    conn = res.connector
    if isinstance(conn, SqlConnector) and conn.incremental:
        need(("connector", "incremental", "column"), conn.incremental.column)
    if isinstance(conn, FilesConnector):
        for header, target in conn.columns.items():
            need(("connector", "columns", header), target)
    if res.quality.freshness_field:
        need(("quality", "freshness_field"), res.quality.freshness_field)
    for i, rule in enumerate(res.quality.rules):
        label: str | int = rule.name or i
        names = rule.fields if isinstance(rule, UniqueRule) else [rule.field]
        for n in names:
            need(
                (
                    "quality",
                    "rules",
                    label,
                    "field" if not isinstance(rule, UniqueRule) else "fields",
                ),
                n,
            )
        if isinstance(rule, InSetRule) and rule.code_list and rule.code_list not in cat.code_lists:
            out.add(
                file,
                ("quality", "rules", label, "code_list"),
                f"unknown code list {rule.code_list!r}",
                did_you_mean(rule.code_list, cat.code_lists),
                "unknown-code-list",
                subject=rule.code_list,
            )


def _one_source(cat: Catalog, out: Findings) -> None:
    claimed: dict[str, Resource] = {}
    for res in cat.resources.values():
        file = cat.origin("resource", res.name)
        carried = {f.element for f in res.fields.values() if f.element}
        for el_id in res.source_of:
            el = cat.elements.get(el_id)
            path = ("source_of", el_id)
            if el is None:
                out.add(
                    file,
                    path,
                    f"unknown element {el_id!r}",
                    did_you_mean(el_id, cat.elements),
                    "unknown-element",
                    subject=el_id,
                )
                continue
            if el.source != res.provider:
                out.add(
                    file,
                    path,
                    f"element {el_id!r} belongs to department {el.source!r} "
                    f"({cat.origin('element', el_id)}); {res.provider!r} cannot be its source",
                    "one data, one source: read it from the source department instead",
                    "foreign-source",
                )
                continue
            if el_id not in carried:
                out.add(
                    file,
                    path,
                    f"resource claims to be the source of {el_id!r} but has no field mapped to it",
                    "map a field to it or remove it from source_of",
                    "source-not-carried",
                )
            first = claimed.get(el_id)
            if first is not None:
                out.add(
                    file,
                    path,
                    f"element {el_id!r} already has its source in resource {first.name!r} "
                    f"({cat.origin('resource', first.name)})",
                    "one data, one source: keep exactly one claimant",
                    "second-source",
                )
            else:
                claimed[el_id] = res
    for el in cat.elements.values():
        if el.id not in claimed and el.source in cat.departments:
            out.add(
                cat.origin("element", el.id),
                ("elements", el.id, "source"),
                f"no resource of department {el.source!r} lists {el.id!r} in source_of",
                "add it to source_of of the department's authoritative resource",
                "no-source",
                subject=el.source,
            )


def _negative_list(cat: Catalog, out: Findings) -> None:
    file = cat.origin("negative_list", "negative_list")
    banned: set[str] = set()
    for entry in cat.negative_list.entries:
        if entry.element not in cat.elements:
            out.add(
                file,
                ("entries", entry.element, "element"),
                f"unknown element {entry.element!r}",
                did_you_mean(entry.element, cat.elements),
                "unknown-element",
                subject=entry.element,
            )
        banned.add(entry.element)
    for res in cat.resources.values():
        rfile = cat.origin("resource", res.name)
        for name, spec in res.fields.items():
            if spec.element in banned:
                if res.effective_share(name) is not ShareClass.none:
                    out.add(
                        rfile,
                        ("fields", name, "share_class"),
                        f"element {spec.element!r} is on the negative list and cannot be shared",
                        "set share_class: none on this field",
                        "negative-list-shared",
                    )
                if res.open_class is OpenClass.open:
                    out.add(
                        rfile,
                        ("open_class",),
                        f"resource is open but carries negative-list element {spec.element!r} in field {name!r}",
                        "set open_class to restricted or closed",
                        "negative-list-opened",
                    )


def _release(cat: Catalog, rel: Release, out: Findings) -> None:
    file = cat.origin("release", rel.name)
    banned = {e.element for e in cat.negative_list.entries}
    if rel.publisher not in cat.departments:
        out.add(
            file,
            ("publisher",),
            f"unknown department {rel.publisher!r}",
            did_you_mean(rel.publisher, cat.departments),
            "unknown-department",
            subject=rel.publisher,
        )
    inputs: dict[str, Resource | None] = {}
    for inp in rel.inputs:
        if inp.resource is not None:
            res = cat.resources.get(inp.resource)
            if res is None:
                out.add(
                    file,
                    ("inputs", inp.resource, "resource"),
                    f"unknown resource {inp.resource!r}",
                    did_you_mean(inp.resource, cat.resources),
                    "unknown-resource",
                    subject=inp.resource,
                )
                continue
            inputs[inp.resource] = res
            if rel.open_class.rank > res.open_class.rank:
                out.add(
                    file,
                    ("open_class",),
                    f"release is {rel.open_class.value!r} but input {res.name!r} is only {res.open_class.value!r}",
                    "nothing may be more open than its most restricted input",
                    "more-open-than-input",
                )
            for j in inp.join_on:
                if j not in res.fields:
                    out.add(
                        file,
                        ("inputs", inp.resource, "join_on"),
                        f"unknown field {j!r} of {res.name!r}",
                        did_you_mean(j, res.fields),
                        "unknown-field",
                    )
        elif inp.entity is not None:
            if inp.entity not in cat.entities():
                out.add(
                    file,
                    ("inputs", inp.entity, "entity"),
                    f"unknown entity {inp.entity!r}",
                    did_you_mean(inp.entity, cat.entities()),
                    "unknown-entity",
                )
                continue
            inputs[inp.entity] = None
            for el in cat.elements.values():
                src = cat.source_resource(el.id)
                if (
                    el.entity == inp.entity
                    and src is not None
                    and rel.open_class.rank > src.open_class.rank
                ):
                    out.add(
                        file,
                        ("open_class",),
                        f"release is {rel.open_class.value!r} but entity {inp.entity!r} draws on "
                        f"{src.name!r}, which is only {src.open_class.value!r}",
                        "nothing may be more open than its most restricted input",
                        "more-open-than-input",
                    )
                    break
    for name, col in rel.columns.items():
        _release_column(cat, rel, name, col, inputs, banned, file, out)
    _release_links(cat, rel, file, out)
    if rel.aggregate is not None:
        for i, g in enumerate(rel.aggregate.group_by):
            if g not in rel.columns:
                out.add(
                    file,
                    ("aggregate", "group_by", i),
                    f"unknown column {g!r}",
                    did_you_mean(g, rel.columns),
                    "unknown-column",
                )
        for m_name, m in rel.aggregate.measures.items():
            if m.column is not None and m.column not in rel.columns:
                out.add(
                    file,
                    ("aggregate", "measures", m_name, "column"),
                    f"unknown column {m.column!r}",
                    did_you_mean(m.column, rel.columns),
                    "unknown-column",
                )


def _release_links(cat: Catalog, rel: Release, file: str, out: Findings) -> None:
    """Pseudonym links are mutual: every release of a group lists all the others."""
    group = {rel.name, *rel.links_with}
    for other_name in rel.links_with:
        other = cat.releases.get(other_name)
        if other is None:
            out.add(
                file,
                ("links_with",),
                f"unknown release {other_name!r}",
                did_you_mean(other_name, cat.releases),
                "unknown-release",
                subject=other_name,
            )
            continue
        if {other.name, *other.links_with} != group:
            out.add(
                file,
                ("links_with",),
                f"release {other_name!r} does not declare the same links "
                f"({sorted(group)} here, {sorted({other.name, *other.links_with})} there)",
                "pseudonyms link only between releases that all list each other",
                "links-not-mutual",
            )


def _release_column(
    cat: Catalog,
    rel: Release,
    name: str,
    col: ReleaseColumn,
    inputs: dict[str, Resource | None],
    banned: set[str],
    file: str,
    out: Findings,
) -> None:
    path = ("columns", name)
    input_name, field_name = col.source.split(".", 1)
    if input_name not in inputs:
        if input_name not in {i.ref for i in rel.inputs}:
            out.add(
                file,
                (*path, "source"),
                f"{input_name!r} is not an input of this release",
                did_you_mean(input_name, [i.ref for i in rel.inputs]),
                "unknown-input",
            )
        return
    res = inputs[input_name]
    if res is not None:
        spec = res.fields.get(field_name)
        if spec is None:
            out.add(
                file,
                (*path, "source"),
                f"resource {res.name!r} has no field {field_name!r}",
                did_you_mean(field_name, res.fields),
                "unknown-field",
            )
            return
        element_id, pii = spec.element, cat.field_pii(spec)
    else:
        element_id = f"{input_name}.{field_name}"
        el = cat.elements.get(element_id)
        if el is None:
            out.add(
                file,
                (*path, "source"),
                f"entity {input_name!r} has no element {element_id!r}",
                did_you_mean(element_id, cat.elements),
                "unknown-element",
                subject=element_id,
            )
            return
        pii = el.pii
    tech = col.technique
    if (
        isinstance(col.hierarchy, CodeListHierarchy)
        and col.hierarchy.code_list not in cat.code_lists
    ):
        out.add(
            file,
            (*path, "hierarchy", "code_list"),
            f"unknown code list {col.hierarchy.code_list!r}",
            did_you_mean(col.hierarchy.code_list, cat.code_lists),
            "unknown-code-list",
            subject=col.hierarchy.code_list,
        )
    governance.check_column(cat, rel, name, col, res, field_name, element_id, banned, file, out)
    if tech is Technique.drop:
        return
    if element_id in banned:
        out.add(
            file,
            (*path, "source"),
            f"element {element_id!r} is on the negative list and cannot be opened",
            "drop the column",
            "negative-list-opened",
        )
    if pii is None:
        out.add(
            file,
            (*path, "source"),
            f"column {col.source!r} is unclassified and cannot be released",
            "give the field a pii class in its resource, or drop it",
            "unclassified-column",
        )
    elif pii is PiiClass.direct:
        mask_ok = tech is Technique.mask and rel.kind is ReleaseKind.list_notice
        if not (tech.removes_identity or mask_ok):
            hint = "use technique drop or pseudonymize" + (
                ""
                if rel.kind is ReleaseKind.list_notice
                else " (mask only in list_notice releases)"
            )
            out.add(
                file,
                (*path, "technique"),
                f"{col.source!r} is a direct identifier; technique {tech.value!r} does not remove it",
                hint,
                "direct-identifier-kept",
            )
    elif (
        pii is PiiClass.quasi
        and rel.kind is ReleaseKind.microdata
        and name not in rel.quasi_identifiers
    ):
        # generalizing at a fixed level is not enough: k is measured only on
        # declared quasi-identifiers, so every other one needs a stated reason
        if col.quasi_exemption:
            out.add(
                file,
                (*path, "quasi_exemption"),
                f"{col.source!r} is a quasi-identifier published outside k-anonymity: "
                f"{col.quasi_exemption}",
                "the steward's exemption; remove it to have k enforced on this column",
                "quasi-exempted",
                severity="notice",
            )
        else:
            out.add(
                file,
                (*path, "technique"),
                f"{col.source!r} is a quasi-identifier but not in quasi_identifiers "
                f"(technique {tech.value!r})",
                "add it to quasi_identifiers (k-anonymity), or give quasi_exemption: <why>",
                "quasi-uncovered",
            )
    if tech is Technique.mask and rel.kind is not ReleaseKind.list_notice:
        out.add(
            file,
            (*path, "technique"),
            "display masks are only for list_notice releases",
            "a masked ID plus age is unique for most people; use drop or pseudonymize",
            "mask-in-microdata",
        )
    if col.level == "auto" and name not in rel.quasi_identifiers:
        out.add(
            file,
            (*path, "level"),
            "level 'auto' is chosen by k-anonymity; the column must be in quasi_identifiers",
            "add it to quasi_identifiers or give a fixed level",
            "auto-level-outside-k",
        )
