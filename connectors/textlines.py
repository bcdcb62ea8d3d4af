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
import re
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
        utf8 = utf8_inside_gb(raw)
        if utf8 is not None:
            return None, (
                f"mixed encodings: {utf8!r} is UTF-8 in a {encoding} file "
                f"(read as {encoding} it would be mojibake)"
            )
    return text, None


_NON_ASCII = re.compile(rb"[\x80-\xff]+")
# two or more UTF-8 characters of three or four bytes (CJK text is three bytes a character)
_UTF8_WIDE = re.compile(rb"(?:[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}){2,}")


def utf8_inside_gb(raw: bytes) -> str | None:
    """UTF-8 text found inside a line of a GB18030/GBK file, or ``None``.

    A line that is valid UTF-8 as a whole is UTF-8.  Otherwise, in each run of
    non-ASCII bytes, a stretch starting on a GB character boundary that is valid
    UTF-8 of two or more characters of three bytes or more is UTF-8 when it reads
    more plausibly so: its GB reading holds rarer characters (outside GB2312, or
    GB2312's less common level 2) than its UTF-8 reading (``_rare``).  UTF-8
    Chinese read as GBK gives such rare characters (``沈敏`` -> ``娌堟晱``: two
    GBK extensions and a level-2 hanzi), while genuine GBK text that happens to be
    valid UTF-8 reads as ordinary characters in GBK and mostly as characters outside
    GB2312 in UTF-8, so it is not refused for this.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return text.strip()
    if _UTF8_WIDE.search(raw) is None:  # most GB text: nothing to look at
        return None
    for run in _NON_ASCII.finditer(raw):
        data = run.group()
        if _UTF8_WIDE.search(data) is None:  # most GB text: nothing to look at
            continue
        i = 0
        while i < len(data) - 5:
            m = _UTF8_WIDE.match(data, i)
            if m is not None:
                piece = _valid_utf8_prefix(m.group())
                if piece is not None:
                    stretch = piece.encode()
                    if _rare(stretch, "gb18030") > _rare(stretch, "utf-8"):
                        return piece
            i += 2 if data[i + 1] >= 0x40 else 4  # next GB character (two or four bytes)
    return None


def _valid_utf8_prefix(data: bytes) -> str | None:
    """The longest valid UTF-8 prefix of ``data`` if it holds 2+ characters."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data[: exc.start].decode("utf-8")
    return text if len(text) >= 2 else None


def _rare(data: bytes, encoding: str) -> int:
    """How unusual ``data`` reads in ``encoding``: 3 a character outside GB2312 (or
    undecodable), 1 a less common GB2312 hanzi (level 2), 0 a common one or a symbol."""
    score = 0
    for ch in data.decode(encoding, errors="replace"):
        try:
            code = ch.encode("gb2312")
        except UnicodeEncodeError:
            score += 3
            continue
        score += code[0] >= 0xD8  # level-2 hanzi: rows 56-87
    return score


def has_utf8_lines(f: IO[bytes], max_bytes: int) -> bool:
    """Whether any line of a (GB) file holds UTF-8 text (mixed encodings: ``utf8_inside_gb``)."""
    for _, raw in bounded_lines(f, max_bytes):
        if raw is None or raw.isascii():
            continue
        if utf8_inside_gb(raw) is not None:
            return True
    return False
