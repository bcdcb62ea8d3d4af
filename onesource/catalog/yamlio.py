"""Safe YAML with positions, for catalog files.

libyaml (``CSafeLoader``) parses; a small constructor records the line and
column of every key and list item and refuses duplicate keys.  Implicit typing
follows YAML 1.2's core schema in spirit: only ``true``/``false`` are booleans
(``NO`` stays the string "NO"), and numbers with leading zeros stay strings
(``0101`` is a code, not an octal 65).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

Mark = tuple[int, int]  # 1-based line, column


class PosDict(dict[Any, Any]):
    """A mapping that remembers where each key stood."""

    __slots__ = ("key_marks", "value_marks", "mark")
    key_marks: dict[Any, Mark]
    value_marks: dict[Any, Mark]
    mark: Mark


class PosList(list[Any]):
    """A list that remembers where each item stood."""

    __slots__ = ("item_marks", "mark")
    item_marks: list[Mark]
    mark: Mark


class YamlProblem(Exception):
    def __init__(self, message: str, line: int, column: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.column, self.hint = message, line, column, hint

    def __reduce__(self) -> tuple[object, ...]:
        # crosses the parallel parser's fork pool as itself
        return (type(self), (self.message, self.line, self.column, self.hint))


_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _mark(node: yaml.Node) -> Mark:
    return node.start_mark.line + 1, node.start_mark.column + 1


class PositionLoader(_BASE):  # type: ignore[misc, valid-type]
    yaml_implicit_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}

    def construct_position_mapping(self, node: yaml.MappingNode) -> PosDict:
        out = PosDict()
        out.mark = _mark(node)
        out.key_marks, out.value_marks = {}, {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlProblem(
                    "merge keys (<<) are not allowed in the catalog",
                    *_mark(key_node),
                    "write the keys out in full",
                )
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise YamlProblem("a mapping key must be a plain value", *_mark(key_node)) from None
            if key in out:
                first = out.key_marks[key]
                raise YamlProblem(
                    f"duplicate key {key!r} (first at line {first[0]})",
                    *_mark(key_node),
                    "each key may appear once in a mapping; remove or merge one",
                )
            out[key] = self.construct_object(value_node, deep=True)
            out.key_marks[key] = _mark(key_node)
            out.value_marks[key] = _mark(value_node)
        return out

    def construct_position_sequence(self, node: yaml.SequenceNode) -> PosList:
        out = PosList(self.construct_object(child, deep=True) for child in node.value)
        out.mark = _mark(node)
        out.item_marks = [_mark(child) for child in node.value]
        return out


PositionLoader.add_constructor("tag:yaml.org,2002:map", PositionLoader.construct_position_mapping)
PositionLoader.add_constructor("tag:yaml.org,2002:seq", PositionLoader.construct_position_sequence)

_RESOLVERS: list[tuple[str, str, str]] = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?(?:0|[1-9][0-9]*))$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:0|[1-9][0-9]*)?\.[0-9]+(?:[eE][-+]?[0-9]+)?|[-+]?(?:0|[1-9][0-9]*)[eE][-+]?[0-9]+)$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN\x00"),
    ("tag:yaml.org,2002:timestamp", r"^(?:[0-9]{4}-[0-9]{2}-[0-9]{2})$", "0123456789"),
]
for _tag, _regexp, _first in _RESOLVERS:
    PositionLoader.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))
PositionLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), [""])


def _timestamp(loader: PositionLoader, node: yaml.ScalarNode) -> Any:
    import datetime as dt

    value = loader.construct_scalar(node)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise YamlProblem(
            f"{value!r} is not a real date", *_mark(node), "write dates as YYYY-MM-DD"
        ) from None


PositionLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


class FastLoader(_BASE):  # type: ignore[misc, valid-type]
    """Same typing rules as PositionLoader, without recording positions.

    Most files are valid and their positions are never needed; a file with a
    problem is parsed again with PositionLoader to place the message.
    """

    yaml_implicit_resolvers = PositionLoader.yaml_implicit_resolvers

    def construct_fast_mapping(self, node: yaml.MappingNode) -> dict[Any, Any]:
        out = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlProblem(
                    "merge keys (<<) are not allowed in the catalog",
                    *_mark(key_node),
                    "write the keys out in full",
                )
            try:
                out[self.construct_object(key_node, deep=True)] = self.construct_object(
                    value_node, deep=True
                )
            except TypeError:  # unhashable key: the position loader explains it
                return PositionLoader.construct_position_mapping(self, node)
        if len(out) != len(node.value):
            # a duplicate key (or an unhashable one): the position loader names it and its line
            return PositionLoader.construct_position_mapping(self, node)
        return out


FastLoader.add_constructor("tag:yaml.org,2002:map", FastLoader.construct_fast_mapping)
FastLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def parse(text: str, positions: bool = True) -> Any:
    """Parse one YAML document; raise ``YamlProblem`` with a position on error."""
    try:
        return yaml.load(text, Loader=PositionLoader if positions else FastLoader)
    except YamlProblem:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        hint = None
        if "\t" in text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else False:
            hint = "YAML does not allow tabs for indentation; use spaces"
            problem = "tab character where indentation was expected"
        elif (
            "could not find expected ':'" in problem or "mapping values are not allowed" in problem
        ):
            hint = "check the indentation and that every key ends with ': '"
        elif (
            "found undefined tag handle" in problem
            or "could not determine a constructor" in problem
        ):
            hint = "custom YAML tags are not allowed in the catalog"
        raise YamlProblem(problem, line, col, hint) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(str(exc), 1, 1) from None


def read(path: Path, positions: bool = True) -> Any:
    """Read and parse a catalog file (UTF-8, BOM tolerated)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlProblem(f"cannot read file: {exc.strerror}", 1, 1) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlProblem("file is not UTF-8 text", line, 1, "save it as UTF-8") from None
    return parse(text, positions)


def locate(data: Any, path: tuple[str | int, ...]) -> Mark | None:
    """Line and column of ``path`` in parsed data; the nearest known ancestor otherwise.

    A string step into a list finds the item whose id/name/code/element equals it.
    """
    best: Mark | None = getattr(data, "mark", None)
    node = data
    for step in path:
        if isinstance(node, PosDict):
            if step not in node:
                return best
            value = node[step]
            # point at a scalar's value, at a collection's key
            marks = node.key_marks if isinstance(value, (PosDict, PosList)) else node.value_marks
            best = marks.get(step, best)
            node = value
        elif isinstance(node, PosList):
            idx = step if isinstance(step, int) else _find(node, step)
            if idx is None or not (0 <= idx < len(node)):
                return best
            best = node.item_marks[idx]
            node = node[idx]
        else:
            return best
    return best


def _find(items: PosList, name: str) -> int | None:
    for i, item in enumerate(items):
        if isinstance(item, dict):
            for key in ("id", "code", "name", "element", "resource", "entity"):
                if item.get(key) == name:
                    return i
        elif item == name:
            return i
    return None
