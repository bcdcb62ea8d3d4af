"""Validation findings rendered for machines: JSON and JUnit XML."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape, quoteattr

from onesource.catalog.loader import LoadResult


def as_json(result: LoadResult) -> str:
    return json.dumps(
        {
            "ok": result.ok,
            "files": result.files,
            "issues": [
                {
                    "file": i.file,
                    "line": i.line,
                    "column": i.column,
                    "path": i.dotted,
                    "code": i.code,
                    "severity": i.severity,
                    "message": i.message,
                    "hint": i.hint,
                    "text": str(i),
                }
                for i in result.issues
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def as_junit(result: LoadResult) -> str:
    by_file: dict[str, list[str]] = {}
    for issue in result.errors:  # notices are not failures
        by_file.setdefault(issue.file, []).append(str(issue))
    cases = []
    for file, texts in sorted(by_file.items()):
        body = escape("\n".join(texts))
        cases.append(
            f'  <testcase classname="catalog" name={quoteattr(file)}>'
            f"<failure message={quoteattr(texts[0])}>{body}</failure></testcase>"
        )
    if not cases:
        cases.append('  <testcase classname="catalog" name="catalog"/>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuite name="onesource-catalog" tests="{max(len(by_file), 1)}" failures="{len(by_file)}">\n'
        + "\n".join(cases)
        + "\n</testsuite>"
    )
