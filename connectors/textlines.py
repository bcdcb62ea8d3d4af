"""Reading text files line by line, safely: bounded lines and strict, unmixed decoding.

``bounded_lines`` never holds more than ``max_bytes`` of one line in memory: a
longer line (a 10 MB line, a file with no newline at all) is reported as too
long and skipped up to its end.

``decode_line`` decodes strictly.  GB18030 (and GBK, GB2312) can decode almost
any byte sequence, so a UTF-8 line inside a GB file would come out as
plausible-looking mojibake (``沈敏`` read as ``娌堟晱``): a non-ASCII line that is
valid UTF-8 in a GB file is refused as mixed encodings, never decoded.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import IO

CHUNK = 1 << 20
GB_FAMILY = ("gb18030", "gbk", "gb2312", "cp936")


def is_gb(encoding: str) -> bool:
    """Whether ``encoding`` is one of the GB family (which decodes UTF-8 bytes silently)."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return False
    return name in GB_FAMILY or name.replace("-", "") in GB_FAMILY


def bounded_lines(f: IO[bytes], max_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes with their newline) per line; ``None`` for a line over ``max_bytes``."""
    number = 0
    while True:
        raw = f.readline(max_bytes + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            while True:  # skip the rest of the long line without keeping it
                rest = f.readline(CHUNK)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None
            continue
        yield number, raw


def decode_line(raw: bytes, encoding: str, gb: bool) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason) for one line in ``encoding`` (``gb``: is_gb(encoding))."""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        return None, f"undecodable bytes for {encoding} at byte {exc.start}"
    if gb and not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return text, None
        return None, (
            f"mixed encodings: this line is UTF-8 in a {encoding} file "
            f"(read as {encoding} it would be mojibake)"
        )
    return text, None


def has_utf8_lines(f: IO[bytes], max_bytes: int) -> bool:
    """Whether any non-ASCII line of a (GB) file is valid UTF-8 (mixed encodings)."""
    for _, raw in bounded_lines(f, max_bytes):
        if raw is None or raw.isascii():
            continue
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        return True
    return False
