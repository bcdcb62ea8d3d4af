"""Display masks for list notices (公示): ID numbers, phones, names.

Masks are for lists shown to the public by name (a notice of subsidy
recipients), never for microdata: a masked ID number plus an age is unique
for most people.  Every function takes ``list_notice`` and refuses to run
without it; the release pipeline passes the release's declared kind.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa

from schemas.errors import TerminalError

MaskKind = Literal["id_number", "phone", "name"]

# compound surnames keep both characters: 欧阳娜娜 -> 欧阳*
COMPOUND_SURNAMES = [
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "令狐",
    "夏侯",
    "长孙",
    "宇文",
    "司徒",
    "轩辕",
    "端木",
    "独孤",
    "南宫",
    "西门",
    "万俟",
    "闻人",
    "呼延",
    "澹台",
    "公冶",
    "太叔",
    "申屠",
    "钟离",
    "百里",
    "东郭",
    "赫连",
]


class MaskNotAllowedError(TerminalError):
    """Masking was asked for a release that is not a list notice."""

    code = "mask-not-allowed"


def _text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    import pyarrow.compute as pc

    return values if pa.types.is_string(values.type) else pc.cast(values, pa.string())


def mask_id_number(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``110101199003071234`` -> ``110101********1234`` (first 6, last 4 kept).

    Values shorter than 11 characters are fully starred (too short to keep
    10 characters and still hide something).
    """
    import pyarrow.compute as pc

    text = _text(values)
    kept = pc.utf8_replace_slice(text, start=6, stop=-4, replacement="********")
    short = pc.less(pc.utf8_length(text), 11)
    return pc.if_else(short, pc.replace_substring_regex(text, ".", "*"), kept)


def mask_phone(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``13812345678`` -> ``138****5678``; values shorter than 8 chars fully starred."""
    import pyarrow.compute as pc

    text = _text(values)
    kept = pc.utf8_replace_slice(text, start=3, stop=-4, replacement="****")
    short = pc.less(pc.utf8_length(text), 8)
    return pc.if_else(short, pc.replace_substring_regex(text, ".", "*"), kept)


def mask_name(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``张三丰`` -> ``张*``, ``欧阳娜娜`` -> ``欧阳*``: surname plus one star.

    One star whatever the length, so the mask does not tell the length of
    the given name.
    """
    import pyarrow.compute as pc

    text = _text(values)
    two = pc.utf8_slice_codeunits(text, 0, 2)
    compound = pc.and_(
        pc.is_in(two, value_set=pa.array(COMPOUND_SURNAMES)),
        pc.greater(pc.utf8_length(text), 2),
    )
    surname = pc.if_else(compound, two, pc.utf8_slice_codeunits(text, 0, 1))
    return pc.binary_join_element_wise(surname, pa.scalar("*"), "")


_MASKS = {"id_number": mask_id_number, "phone": mask_phone, "name": mask_name}


def mask(
    values: pa.Array | pa.ChunkedArray, kind: MaskKind, *, list_notice: bool
) -> pa.Array | pa.ChunkedArray:
    """Apply the display mask ``kind``; only allowed for list notices."""
    if not list_notice:
        raise MaskNotAllowedError(
            f"display mask {kind!r} asked for a release that is not a list notice",
            hint="masked identifiers are re-identifiable in microdata: drop or pseudonymize "
            "the column, or declare the release as a list notice (公示)",
        )
    if kind not in _MASKS:
        raise MaskNotAllowedError(f"unknown mask {kind!r}", hint=f"known: {', '.join(_MASKS)}")
    return _MASKS[kind](values)
