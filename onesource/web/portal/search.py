"""Search over titles, summaries, keywords and field names, for Chinese text.

SQLite FTS5 with the trigram tokenizer matches any 3+ character substring;
shorter queries (most Chinese words are two characters) fall back to a
substring scan of the same indexed text, which is exact for a catalog of
this size.
"""

from __future__ import annotations

import sqlite3
import threading

from schemas.catalog import Catalog


class SearchIndex:
    def __init__(self, catalog: Catalog) -> None:
        self._lock = threading.Lock()
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute(
            "CREATE VIRTUAL TABLE docs USING fts5(name UNINDEXED, body, tokenize='trigram')"
        )
        rows = []
        for rel in catalog.releases.values():
            fields = []
            for col_name, col in rel.columns.items():
                ref, fname = col.source.split(".", 1)
                spec = catalog.resources[ref].fields[fname]
                el = catalog.field_element(spec)
                fields += [
                    col_name,
                    col.title or "",
                    el.name if el else (spec.name or ""),
                    el.name_en if el else "",
                ]
            dept = catalog.departments.get(rel.publisher)
            body = " ".join(
                [
                    rel.title,
                    rel.title_en,
                    rel.summary,
                    " ".join(rel.keywords),
                    " ".join(fields),
                    dept.name if dept else "",
                    rel.theme,
                ]
            )
            rows.append((rel.name, body.lower()))
        self.db.executemany("INSERT INTO docs VALUES (?, ?)", rows)

    def search(self, query: str) -> list[str]:
        # control characters (a NUL ends SQLite's FTS5 query string) mean nothing in a search
        kept = "".join(c for c in query if c.isprintable() or c.isspace())
        q = " ".join(kept.lower().split())
        if not q:
            return []
        with self._lock:
            if len(q) >= 3:
                phrase = '"' + q.replace('"', '""') + '"'
                return [
                    r[0]
                    for r in self.db.execute(
                        "SELECT name FROM docs WHERE docs MATCH ? ORDER BY rank", (phrase,)
                    )
                ]
            pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            return [
                r[0]
                for r in self.db.execute(
                    "SELECT name FROM docs WHERE body LIKE ? ESCAPE '\\'", (pattern,)
                )
            ]
