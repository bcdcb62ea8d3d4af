"""Load the catalog tree, validate every file, check rules across files.

Every problem becomes an ``Issue`` with ``file:line:column``, the path by
names, what is wrong and how to fix it; all problems are collected, none
raised, so a steward sees everything in one run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from onesource.catalog import messages, yamlio
from schemas import rules
from schemas.catalog import Catalog, Issue
from schemas.codes import CodeList
from schemas.connector import PluginConnector
from schemas.department import DepartmentsFile
from schemas.element import ElementsFile
from schemas.errors import CatalogError
from schemas.release import NegativeList, Release
from schemas.resource import Resource
from schemas.search import SearchSettings


@dataclass
class LoadResult:
    catalog: Catalog
    issues: list[Issue] = field(default_factory=list)
    files: int = 0

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.is_error]

    @property
    def notices(self) -> list[Issue]:
        """Shown, never failing: reasoned exceptions the catalog declares."""
        return [i for i in self.issues if not i.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_issues(self) -> Catalog:
        if self.errors:
            raise CatalogError(self.errors, _summary(self.errors))
        return self.catalog


def _summary(issues: list[Issue]) -> str:
    head = "\n".join(str(i) for i in issues[:20])
    more = f"\n... and {len(issues) - 20} more" if len(issues) > 20 else ""
    return f"the catalog has {len(issues)} problem(s):\n{head}{more}"


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cwd = Path.cwd()
        self.catalog = Catalog()
        self.issues: list[Issue] = []
        self.parsed: dict[str, Any] = {}
        self.with_positions: dict[str, Any] = {}
        self.paths: dict[str, Path] = {}
        self.files = 0
        self.preparsed: dict[Path, Any] = {}
        # what failed to load, so cross-file rules skip its follow-on errors
        self.broken: dict[str, set[str]] = {
            "departments": set(),
            "elements": set(),
            "code_lists": set(),
            "resources": set(),
            "resource_departments": set(),
        }

    def rel(self, path: Path) -> str:
        try:
            return os.path.relpath(path, self.cwd) if path.is_absolute() else str(path)
        except ValueError:
            return str(path)

    def add(
        self,
        file: str,
        path: tuple[str | int, ...],
        message: str,
        hint: str | None = None,
        code: str = "catalog-invalid",
        severity: str = "error",
    ) -> None:
        line, col = None, None
        data = self.positioned(file)
        if data is not None:
            mark = yamlio.locate(data, path)
            if mark:
                line, col = mark
        elif file in self.parsed:
            line, col = 1, 1
        self.issues.append(Issue(file, path, message, hint, code, line, col, severity))

    def positioned(self, file: str) -> Any:
        """The file parsed again with positions, only when a message needs them."""
        if file not in self.parsed or self.parsed[file] is None:
            return None
        if file not in self.with_positions:
            try:
                self.with_positions[file] = yamlio.read(self.paths[file], positions=True)
            except yamlio.YamlProblem:
                self.with_positions[file] = None
        return self.with_positions[file]

    def read(self, path: Path, shape: type = dict) -> tuple[str, Any]:
        file = self.rel(path)
        self.files += 1
        self.paths[file] = path
        try:
            data = (
                self.preparsed.pop(path)
                if path in self.preparsed
                else yamlio.read(path, positions=False)
            )
            if isinstance(data, yamlio.YamlProblem):
                raise data
        except yamlio.YamlProblem as exc:
            self.issues.append(
                Issue(file, (), exc.message, exc.hint, "yaml-syntax", exc.line, exc.column)
            )
            return file, None
        self.parsed[file] = data
        if data is None:
            self.add(file, (), "file is empty", "remove it or add its content")
            return file, None
        if not isinstance(data, shape):
            self.add(
                file,
                (),
                f"expected a mapping at the top of the file, got {messages._describe(data)}",
            )
            return file, None
        return file, data

    def validate(self, model: type[BaseModel], file: str, data: Any) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            seen: set[tuple[tuple[str | int, ...], str]] = set()
            for err in exc.errors(include_url=False):
                base = messages.data_path(data, tuple(err["loc"]), err["type"])
                text, hint = messages.explain(err, model, data, base)
                for sub, message in messages.split_located(text):
                    path = base + sub
                    shown = messages.named_path(data, path)
                    if (shown, message) in seen:
                        continue
                    seen.add((shown, message))
                    mark = yamlio.locate(self.positioned(file), path)
                    line, col = mark if mark else (None, None)
                    self.issues.append(
                        Issue(file, shown, message, hint, err["type"].replace("_", "-"), line, col)
                    )
            return None

    def run(self) -> LoadResult:
        if not self.root.is_dir():
            self.issues.append(
                Issue(
                    self.rel(self.root),
                    (),
                    "catalog folder does not exist",
                    "set ONESOURCE_CATALOG or run from the repository root",
                    "catalog-missing",
                )
            )
            return LoadResult(self.catalog, self.issues, 0)
        self.preparsed = parse_in_parallel(self.root)
        self.departments()
        self.code_lists()
        self.elements()
        self.resources()
        self.releases()
        self.negative_list()
        self.search_settings()
        self.unexpected_files()
        b = self.broken
        broken = rules.Broken(
            departments=bool(b["departments"]),
            elements=bool(b["elements"]),
            code_lists=frozenset(b["code_lists"]),
            resources=frozenset(b["resources"]),
            resource_departments=frozenset(b["resource_departments"]),
        )
        for issue in rules.check(self.catalog, broken):
            self.add(issue.file, issue.path, issue.message, issue.hint, issue.code, issue.severity)
        self.issues.sort(key=lambda i: (i.file, i.line or 0, i.column or 0))
        return LoadResult(self.catalog, self.issues, self.files)

    def departments(self) -> None:
        path = self.root / "departments.yaml"
        if not path.exists():
            self.issues.append(
                Issue(
                    self.rel(path),
                    (),
                    "missing: the catalog needs departments.yaml",
                    None,
                    "file-missing",
                )
            )
            return
        file, data = self.read(path)
        parsed = self.validate(DepartmentsFile, file, data) if data is not None else None
        if parsed is None:
            self.broken["departments"].add(file)
            return
        for dept in parsed.departments:
            if dept.code in self.catalog.departments:
                self.add(
                    file,
                    ("departments", dept.code, "code"),
                    f"department {dept.code!r} is defined twice",
                )
                continue
            self.catalog.departments[dept.code] = dept
            self.catalog.origins[f"department:{dept.code}"] = file

    def code_lists(self) -> None:
        for path in _yaml_files(self.root / "codes"):
            file, data = self.read(path)
            cl = self.validate(CodeList, file, data) if data is not None else None
            if cl is None:
                self.broken["code_lists"].add(path.stem)
                continue
            if cl.name != path.stem:
                self.add(
                    file,
                    ("name",),
                    f"code list name {cl.name!r} differs from the file name {path.stem!r}",
                    f"rename the file to {cl.name}.yaml or set name: {path.stem}",
                )
            elif cl.name in self.catalog.code_lists:
                self.add(file, ("name",), f"code list {cl.name!r} is defined twice")
            else:
                self.catalog.code_lists[cl.name] = cl
                self.catalog.origins[f"code_list:{cl.name}"] = file

    def elements(self) -> None:
        for path in _yaml_files(self.root / "elements"):
            file, data = self.read(path)
            parsed = self.validate(ElementsFile, file, data) if data is not None else None
            if parsed is None:
                self.broken["elements"].add(file)
                continue
            for el in parsed.elements:
                if el.id in self.catalog.elements:
                    first = self.catalog.origin("element", el.id)
                    self.add(
                        file,
                        ("elements", el.id, "id"),
                        f"element {el.id!r} is defined twice",
                        f"first defined in {first}",
                        "duplicate-element",
                    )
                    continue
                self.catalog.elements[el.id] = el
                self.catalog.origins[f"element:{el.id}"] = file

    def resources(self) -> None:
        base = self.root / "resources"
        for path in _yaml_files(base, recursive=True):
            file, data = self.read(path)
            dept = path.parent.name
            if data is None:
                self._broken_resource(path)
                continue
            if path.parent.parent != base:
                self.add(file, (), "resource files live in resources/<department>/<name>.yaml")
                continue
            res: Resource | None = self.validate(Resource, file, data)
            if res is not None and isinstance(res.connector, PluginConnector):
                res = self._plugin_connector(file, data, res)
            if res is None:
                self._broken_resource(path)
                continue
            if res.name != path.stem:
                self.add(
                    file,
                    ("name",),
                    f"resource name {res.name!r} differs from the file name {path.stem!r}",
                    f"rename the file to {res.name}.yaml or set name: {path.stem}",
                )
                self._broken_resource(path)
                continue
            if res.provider != dept:
                self.add(
                    file,
                    ("provider",),
                    f"provider {res.provider!r} differs from the folder {dept!r}",
                    f"move the file to resources/{res.provider}/ or set provider: {dept}",
                )
                self._broken_resource(path)
                continue
            if res.name in self.catalog.resources:
                self.add(
                    file,
                    ("name",),
                    f"resource {res.name!r} is defined twice",
                    f"first defined in {self.catalog.origin('resource', res.name)}",
                    "duplicate-resource",
                )
                continue
            self.catalog.resources[res.name] = res
            self.catalog.origins[f"resource:{res.name}"] = file

    def _plugin_connector(self, file: str, data: Any, res: Resource) -> Resource | None:
        """Check a plugin connector's options with the plugin's own model (entry point
        ``onesource.connectors``), keeping that model's instance on the resource."""
        from pydantic import ConfigDict, create_model

        from connectors import registry
        from schemas.errors import OneSourceError

        kind = res.connector.type
        try:
            spec = registry.spec_model(kind)
        except OneSourceError as exc:
            self.add(file, ("connector", "type"), exc.message, exc.hint, exc.code)
            return None
        # validated in place (same data, same positions): errors name connector.<option>
        wrapper = create_model(
            f"{spec.__name__}Resource",
            __config__=ConfigDict(extra="ignore"),
            connector=(spec, ...),
        )
        checked = self.validate(wrapper, file, data)
        if checked is None:
            return None
        res.connector = checked.connector
        return res

    def _broken_resource(self, path: Path) -> None:
        self.broken["resources"].add(path.stem)
        self.broken["resource_departments"].add(path.parent.name)

    def releases(self) -> None:
        for path in _yaml_files(self.root / "releases"):
            file, data = self.read(path)
            rel: Release | None = self.validate(Release, file, data) if data is not None else None
            if rel is None:
                continue
            if rel.name != path.stem:
                self.add(
                    file,
                    ("name",),
                    f"release name {rel.name!r} differs from the file name {path.stem!r}",
                    f"rename the file to {rel.name}.yaml or set name: {path.stem}",
                )
                continue
            self.catalog.releases[rel.name] = rel
            self.catalog.origins[f"release:{rel.name}"] = file

    def negative_list(self) -> None:
        path = self.root / "negative_list.yaml"
        if not path.exists():
            return
        file, data = self.read(path)
        neg = self.validate(NegativeList, file, data) if data is not None else None
        if neg is not None:
            self.catalog.negative_list = neg
            self.catalog.origins["negative_list:negative_list"] = file

    def search_settings(self) -> None:
        path = self.root / "search.yaml"
        if not path.exists():
            return
        file, data = self.read(path)
        found = self.validate(SearchSettings, file, data) if data is not None else None
        if found is None:
            return
        seen: dict[str, int] = {}
        for g, group in enumerate(found.synonyms):
            if len({w.lower() for w in group}) < 2:
                self.add(file, ("synonyms", g), "a synonym group needs two different words")
            for w, word in enumerate(group):
                first = seen.setdefault(word.lower(), g)
                if first != g:
                    self.add(
                        file,
                        ("synonyms", g, w),
                        f"{word!r} is already in the group [{', '.join(found.synonyms[first])}]",
                        "merge the two groups: a word belongs to one group",
                        "duplicate-synonym",
                    )
        self.catalog.search = found
        self.catalog.origins["search:search"] = file

    def unexpected_files(self) -> None:
        known = {
            "departments.yaml",
            "negative_list.yaml",
            "search.yaml",
            "codes",
            "elements",
            "resources",
            "releases",
        }
        for entry in sorted(self.root.iterdir()):
            if (
                entry.name.startswith(".")
                or entry.name in known
                or entry.suffix in (".md", ".json")
            ):
                continue
            hint = (
                "rename it to .yaml"
                if entry.suffix == ".yml"
                else f"known entries: {', '.join(sorted(known))}"
            )
            self.issues.append(
                Issue(
                    self.rel(entry),
                    (),
                    "unexpected entry in the catalog folder",
                    hint,
                    "unexpected-file",
                )
            )


PARALLEL_FROM = 400  # files; below this a second process costs more than it saves


def _parse_chunk(paths: list[Path]) -> list[tuple[Path, Any]]:
    out: list[tuple[Path, Any]] = []
    for path in paths:
        try:
            out.append((path, yamlio.read(path, positions=False)))
        except yamlio.YamlProblem as exc:
            out.append((path, exc))  # pickles as itself (__reduce__)
    return out


def parse_in_parallel(root: Path) -> dict[Path, Any]:
    """Parse a large catalog's files on every core (fork; CLI and loaders only).

    libyaml plus the Python constructor is CPU-bound; a 4,000-file catalog
    parses about twice as fast on two cores.  Small catalogs, platforms
    without fork, and threaded callers parse sequentially instead.
    """
    import multiprocessing as mp
    import threading

    files = [
        p
        for p in root.rglob("*.yaml")
        if not any(x.startswith(".") for x in p.relative_to(root).parts)
    ]
    workers = min(os.cpu_count() or 1, 8)
    if (
        len(files) < PARALLEL_FROM
        or workers < 2
        or "fork" not in mp.get_all_start_methods()
        or threading.active_count() > 1
    ):
        return {}
    chunks = [files[i::workers] for i in range(workers)]
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            parts = pool.map_async(_parse_chunk, chunks).get(timeout=300)
    except (OSError, RuntimeError, mp.TimeoutError):
        return {}
    out: dict[Path, Any] = {}
    for part in parts:
        out.update(part)
    return out


def _yaml_files(folder: Path, recursive: bool = False) -> list[Path]:
    if not folder.is_dir():
        return []
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p
        for p in found
        if p.is_file() and p.suffix in (".yaml", ".yml") and not p.name.startswith(".")
    )


def load_catalog(root: Path | str) -> LoadResult:
    """Load and check the catalog under ``root``; every issue is in the result."""
    return _Loader(Path(root)).run()
