"""CSV files: a fast pyarrow reader, and an exact line-by-line reader for what it cannot report.

pyarrow reads every column as text; when it meets a malformed row, bad bytes,
an oversized field or a GB file holding UTF-8 lines, the rest of the file is
re-read by the exact reader, which rejects each bad line with its number
(bounded lines, strict decoding: ``connectors.textlines``).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa

from connectors.limits import MalformedCsvError, ReadLimitError
from connectors.textlines import bounded_lines, decode_line, has_utf8_lines, is_gb, line_end

if TYPE_CHECKING:
    from connectors.base import Extraction
    from connectors.readers import Opener, ReadSpec

SNIFF_BYTES = 1 << 20


def sniff_encoding(head: bytes) -> str:
    """BOM -> utf-8-sig; else the majority of non-ASCII lines: valid UTF-8 -> utf-8, others -> gb18030.

    Lines in the minority encoding are rejected later, line by line (``textlines``).
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    utf8 = other = 0
    lines = head.splitlines()  # \r\n, \n and lone \r alike
    if len(head) >= SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle of a character
    for line in lines:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            other += 1
    return "utf-8" if utf8 >= other else "gb18030"


def read_csv(
    ex: Extraction, resource: str, spec: ReadSpec, open_file: Opener, source: str
) -> Iterator[pa.RecordBatch]:
    with open_file() as f:
        head = f.read(SNIFF_BYTES)
    encoding = sniff_encoding(head) if spec.encoding == "auto" else spec.encoding
    header = _header(head, encoding, spec, source)
    from connectors.readers import check_headers

    names = check_headers(ex, resource, spec, header, source)
    done = 0  # data rows already yielded (or rejected) by the fast path
    if is_gb(encoding):
        # pyarrow would decode UTF-8 lines of a GB file into mojibake: find them first
        with open_file() as f:
            mixed = has_utf8_lines(f, spec.limits.max_line_bytes)
        if mixed:
            yield from _csv_exact(ex, resource, spec, open_file, source, encoding, names, skip=0)
            return
    fast = _csv_fast(ex, resource, spec, open_file, source, encoding, names)
    try:
        for batch, consumed in fast:
            done = consumed
            yield batch
        return
    except _NeedExact:
        pass
    yield from _csv_exact(ex, resource, spec, open_file, source, encoding, names, skip=done)


class _NeedExact(Exception):
    """The fast reader met something only the exact reader can report line by line."""


def _header(head: bytes, encoding: str, spec: ReadSpec, source: str) -> list[str]:
    import csv

    limit = spec.limits.max_header_bytes
    start = 0
    for _ in range(spec.header_row - 1):  # preamble lines above the header
        nl = line_end(head, start, True)
        if nl is None or nl >= len(head) and not head.endswith((b"\r", b"\n")):
            return []
        start = nl
    cut = line_end(head, start, True)
    end = len(head) if cut is None else len(head[start:cut].rstrip(b"\r\n")) + start
    if end - start > limit:
        raise ReadLimitError(
            f"{source}: the header (line {spec.header_row}) is longer than {limit:,} bytes",
            limit="max_header_bytes",
            value=limit,
        )
    text = head[start:end].decode(encoding, errors="replace")
    if start == 0:
        text = text.lstrip("\ufeff")
    try:
        return next(csv.reader([text], delimiter=spec.delimiter, strict=True), [])
    except csv.Error as exc:
        raise MalformedCsvError(
            f"{source}: line {spec.header_row} (the header) is not valid CSV: {exc}",
            hint="fix the header (a quote left open, or a newline inside a name)",
        ) from None


def _csv_fast(
    ex: Extraction,
    resource: str,
    spec: ReadSpec,
    open_file: Opener,
    source: str,
    encoding: str,
    names: list[str],
) -> Iterator[tuple[pa.RecordBatch, int]]:
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    def invalid(row: Any) -> str:
        return "skip" if row.text.strip() == "" else "error"  # "error" -> exact reader

    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    read = pcsv.ReadOptions(
        skip_rows=spec.header_row,
        column_names=names,
        encoding=arrow_encoding,
        # a record longer than a block fails here and goes to the exact reader, which bounds it
        block_size=max(1 << 16, min(spec.batch_rows * 64, spec.limits.max_line_bytes)),
    )
    parse = pcsv.ParseOptions(
        delimiter=spec.delimiter,
        invalid_row_handler=invalid,
        ignore_empty_lines=False,
        newlines_in_values=True,
    )
    convert = pcsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    line = spec.header_row  # physical line of the last row read
    rows = 0
    f = open_file()
    try:
        try:
            reader = pcsv.open_csv(
                f, read_options=read, parse_options=parse, convert_options=convert
            )
            for raw in reader:
                if _longest(raw) > spec.limits.max_field_chars:
                    raise _NeedExact()  # the exact reader rejects the oversized record alone
                # line of each row: rows are lines, plus any newlines inside quoted values
                extra = _newlines(raw) if raw.num_rows else None
                starts = [line + 1 + i for i in range(raw.num_rows)]
                if extra is not None:
                    shift = 0
                    for i, n in enumerate(extra):
                        starts[i] += shift
                        shift += n
                    line += shift
                line += raw.num_rows
                blank = pc.invert(_any_valid(raw))
                keep = raw.filter(pc.invert(blank)) if pc.any(blank).as_py() else raw
                kept_lines = [s for s, b in zip(starts, blank.to_pylist(), strict=True) if not b]
                batch = ex.cast(keep, resource, source=source, lines=kept_lines.__getitem__)
                rows += keep.num_rows
                yield batch, rows
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            # malformed rows or bad bytes: the exact reader reports them line by line
            raise _NeedExact() from exc
    finally:
        f.close()


def _longest(batch: pa.RecordBatch) -> int:
    import pyarrow.compute as pc

    longest = 0
    for col in batch.columns:
        if col.null_count < len(col):
            longest = max(longest, pc.max(pc.binary_length(col)).as_py() or 0)
    return longest


def _any_valid(batch: pa.RecordBatch) -> pa.Array:
    import pyarrow.compute as pc

    out = pc.is_valid(batch.column(0))
    for col in batch.columns[1:]:
        out = pc.or_(out, pc.is_valid(col))
    return out


def _newlines(batch: pa.RecordBatch) -> list[int] | None:
    import pyarrow.compute as pc

    total = None
    for col in batch.columns:
        count = pc.count_substring(col, "\n")
        if pc.max(count).as_py():
            filled = pc.fill_null(count, 0)
            total = filled if total is None else pc.add(total, filled)
    return None if total is None else total.to_pylist()


def _csv_exact(
    ex: Extraction,
    resource: str,
    spec: ReadSpec,
    open_file: Opener,
    source: str,
    encoding: str,
    names: list[str],
    skip: int,
) -> Iterator[pa.RecordBatch]:
    import csv

    limits = spec.limits
    csv.field_size_limit(max(limits.max_field_chars, 1))
    position = {"line": 0}
    gb = is_gb(encoding)

    def lines(f: IO[bytes]) -> Iterator[str]:
        for number, raw in bounded_lines(f, limits.max_line_bytes):
            position["line"] = number
            if raw is None:
                ex.reject(
                    source,
                    number,
                    "",
                    f"line longer than {limits.max_line_bytes:,} bytes "
                    "(limit ONESOURCE_READ_MAX_LINE_BYTES)",
                )
                continue
            text, reason = decode_line(raw, encoding, gb)
            if text is None:
                if number > spec.header_row:
                    shown = raw.decode(encoding, errors="replace").rstrip("\r\n")
                    ex.reject(source, number, shown, reason or "undecodable")
                continue
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield text

    rows: list[list[str]] = []
    row_lines: list[int] = []
    seen = 0
    with open_file() as f:
        reader = csv.reader(lines(f), delimiter=spec.delimiter)
        ended = 0  # the last line of the previous record
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                # a field over the limit (often an unbalanced quote) or a broken record: where
                # the next record starts cannot be known, so the file is refused, naming the lines
                start, stop = ended + 1, position["line"]
                where = f"line {start}" + (f" (to line {stop})" if stop > start else "")
                if "field larger than field limit" in str(exc):
                    raise ReadLimitError(
                        f"{source}: {where}: a field is longer than "
                        f"{limits.max_field_chars:,} characters ({exc})",
                        limit="max_field_chars",
                        value=limits.max_field_chars,
                        hint="often a quote left open; otherwise the limit is set by "
                        "ONESOURCE_READ_MAX_FIELD_CHARS",
                    ) from None
                raise MalformedCsvError(
                    f"{source}: {where} is not valid CSV: {exc}",
                    hint="fix the record (a quote left open?) and send the file again",
                ) from None
            ended = position["line"]
            if position["line"] <= spec.header_row:
                continue
            if not record or all(v == "" for v in record):
                continue
            seen += 1
            if seen <= skip:
                continue  # already read by the fast reader
            if len(record) != len(names):
                ex.reject(
                    source,
                    position["line"],
                    spec.delimiter.join(record),
                    f"{len(record)} columns, the header has {len(names)}",
                )
                continue
            rows.append(record)
            row_lines.append(position["line"])
            if len(rows) >= spec.batch_rows:
                yield _text_batch(ex, resource, source, names, rows, row_lines)
                rows, row_lines = [], []
    if rows:
        yield _text_batch(ex, resource, source, names, rows, row_lines)


def _text_batch(
    ex: Extraction,
    resource: str,
    source: str,
    names: list[str],
    rows: list[list[str]],
    row_lines: list[int],
) -> pa.RecordBatch:
    cols = list(zip(*rows, strict=True))
    arrays = [pa.array([v if v != "" else None for v in col], pa.string()) for col in cols]
    raw = pa.RecordBatch.from_arrays(arrays, names=names)
    return ex.cast(raw, resource, source=source, lines=row_lines.__getitem__)
