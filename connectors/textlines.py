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
    """(line number, bytes with their newline) per line; ``None`` for a line over ``max_bytes``.

    A line ends at ``\\r\\n``, ``\\n`` or a lone ``\\r`` (classic Mac exports), as in the
    fast reader, so both readers number lines alike.  Memory stays bounded by
    ``max_bytes`` plus one read chunk.
    """
    number = 0
    buf = b""
    pos = 0  # start of the current line in buf
    eof = False
    skipping = False  # inside a line already reported as too long
    while True:
        cut = line_end(buf, pos, eof)
        if cut is not None:
            number += 1
            if skipping or cut - pos > max_bytes + 2:
                yield number, None
            else:
                line = buf[pos:cut]
                yield number, (None if len(line.rstrip(b"\r\n")) > max_bytes else line)
            skipping = False
            pos = cut
            continue
        if eof:
            if pos < len(buf) or skipping:
                number += 1
                yield number, None if skipping or len(buf) - pos > max_bytes else buf[pos:]
            return
        rest = buf[pos:]
        if len(rest) > max_bytes:  # too long already: drop what we hold, keep a trailing CR
            skipping = True
            rest = b"\r" if rest.endswith(b"\r") else b""
        chunk = f.read(CHUNK)
        eof = not chunk
        buf, pos = rest + chunk, 0


def line_end(buf: bytes, pos: int, eof: bool) -> int | None:
    """Index just past the first newline at or after ``pos`` (``None``: not known yet)."""
    n = buf.find(b"\n", pos)
    r = buf.find(b"\r", pos, n if n >= 0 else len(buf))
    if r < 0:
        return n + 1 if n >= 0 else None
    if r + 1 < len(buf):
        return r + 2 if buf[r + 1] == 0x0A else r + 1
    return r + 1 if eof else None  # a CR at the end of the buffer: is LF next?


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
