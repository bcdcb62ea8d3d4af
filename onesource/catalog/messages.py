"""Turn pydantic validation errors into stewards' messages with named paths."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from schemas.base import NAME_HINT

_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "date_type": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(value)


def _unwrap(tp: Any) -> list[Any]:
    """Candidate model classes inside Optional/list/dict/Annotated/Union types."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _unwrap(a)]
    if origin in (list, dict):
        return _unwrap(typing.get_args(tp)[-1])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return []


def model_at(
    root: type[BaseModel], data: Any, loc: tuple[str | int, ...]
) -> type[BaseModel] | None:
    """The model class validating the mapping at ``loc`` (best effort)."""
    current: list[type[BaseModel]] = [root]
    node = data
    for step in loc:
        if isinstance(step, int) or (
            isinstance(node, dict)
            and step in node
            and not any(step in m.model_fields for m in current)
        ):
            if isinstance(node, list) and isinstance(step, int) and _has(node, step):
                node = node[step]
            elif isinstance(node, dict):
                node = node.get(step)
            else:
                node = None
            continue
        nxt: list[Any] = []
        for model in current:
            f = model.model_fields.get(str(step))
            if f is not None:
                nxt.extend(_unwrap(f.annotation))
        if not nxt:
            continue  # a union tag step: stay on the members
        current = nxt
        node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, dict) and "type" in node and len(current) > 1:
            tagged = [
                m
                for m in current
                if "type" in m.model_fields
                and node["type"] in str(m.model_fields["type"].annotation)
            ]
            current = tagged or current
        if isinstance(node, dict) and "check" in node and len(current) > 1:
            tagged = [
                m
                for m in current
                if "check" in m.model_fields
                and node["check"] in str(m.model_fields["check"].annotation)
            ]
            current = tagged or current
    return current[0] if len(current) == 1 else None


def _has(node: Any, step: str | int) -> bool:
    if isinstance(node, list):
        return isinstance(step, int) and 0 <= step < len(node)
    return step in node


def data_path(data: Any, loc: tuple[str | int, ...], kind: str = "") -> tuple[str | int, ...]:
    """Drop pydantic's union-member steps that are not in the data."""
    out: list[str | int] = []
    node = data
    for i, step in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict):
            if step in node:
                out.append(step)
                node = node[step]
            elif last and kind in ("missing", "extra_forbidden"):
                out.append(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            out.append(step)
            node = node[step]
        elif last and not isinstance(node, (dict, list)):
            break
    return tuple(out)


def named_path(data: Any, path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Replace list indexes by the item's id/name/code where it has one."""
    out: list[str | int] = []
    node = data
    for step in path:
        if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            item = node[step]
            label: str | int = step
            if isinstance(item, dict):
                for key in ("id", "code", "name", "element", "resource", "entity"):
                    if isinstance(item.get(key), str):
                        label = item[key]
                        break
            out.append(label)
            node = item
        else:
            out.append(step)
            node = node.get(step) if isinstance(node, dict) else None
    return tuple(out)


def explain(
    err: ErrorDetails, root: type[BaseModel], data: Any, path: tuple[str | int, ...]
) -> tuple[str, str | None]:
    """Message and hint for one pydantic error."""
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    key = path[-1] if path else ""
    if kind == "extra_forbidden":
        model = model_at(root, data, path[:-1])
        known = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = (
            f"did you mean {close[0]!r}?"
            if close
            else (f"allowed keys: {', '.join(known)}" if known else None)
        )
        return f"unknown key {key!r}", hint
    if kind == "missing":
        return f"missing required item {key!r}", f"add '{key}:' here"
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "")
        options = [
            o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",") if o.strip()
        ]
        close = (
            difflib.get_close_matches(str(value), options, n=1, cutoff=0.5)
            if isinstance(value, str)
            else []
        )
        hint = f"did you mean {close[0]!r}?" if close else None
        return f"invalid value {_describe(value)}: expected {expected}", hint
    if kind == "union_tag_invalid":
        return (
            f"unknown {ctx.get('discriminator', 'type').strip(chr(39))} {_describe(ctx.get('tag'))}",
            f"known: {ctx.get('expected_tags')}",
        )
    if kind == "union_tag_not_found":
        return (
            f"missing required item {ctx.get('discriminator', 'type')!r}",
            "it selects the kind of this item",
        )
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == r"^[a-z][a-z0-9_]*$":
            return f"{_describe(value)} is not a valid name", NAME_HINT
        if "\\." in str(ctx.get("pattern")):
            return (
                f"{_describe(value)} is not a valid reference",
                "write it as <entity>.<item> in lowercase, e.g. person.id_number",
            )
        return f"{_describe(value)} does not match the pattern {ctx.get('pattern')}", None
    if kind in ("too_short", "string_too_short"):
        return f"{_describe(value)} is too short", err["msg"]
    if kind in ("too_long", "string_too_long"):
        return f"{_describe(value)} is too long", err["msg"]
    if kind in _TYPE_WORDS:
        hint = (
            "quote it to make it text"
            if kind == "string_type" and isinstance(value, int | float | bool)
            else None
        )
        if kind in ("date_type", "date_parsing", "date_from_datetime_parsing") and isinstance(
            value, str
        ):
            hint = "write dates as YYYY-MM-DD, unquoted"
        return f"expected {_TYPE_WORDS[kind]}, got {_describe(value)}", hint
    if kind in ("value_error", "assertion_error"):
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        return msg, None
    if kind.startswith(("greater", "less")):
        return f"{_describe(value)} is out of range: {err['msg'].lower()}", None
    return err["msg"], None


def split_located(message: str) -> list[tuple[tuple[str, ...], str]]:
    """Model rules write '[sub.path] text' lines; return (sub-path, text) pairs."""
    out = []
    for line in message.splitlines():
        if line.startswith("[") and "] " in line:
            sub, text = line[1:].split("] ", 1)
            out.append((tuple(sub.split(".")), text))
        else:
            out.append(((), line))
    return out
