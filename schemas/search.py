"""Search settings a steward maintains: synonyms, and what the open catalogue lists.

``catalog/search.yaml`` (optional)::

    synonyms:
      - [社保, 社会保险]
      - [看病, 就医, 医院]
    list_closed: true
"""

from __future__ import annotations

from pydantic import Field

from schemas.base import Entry, Text


class SearchSettings(Entry):
    synonyms: list[list[Text]] = Field(
        default_factory=list,
        description="groups of words that mean the same thing; a query with one finds the others",
    )
    list_closed: bool = Field(
        False,
        description="closed resources (不予开放) appear in the open catalogue as entries without data",
    )

    def alternatives(self, term: str) -> list[str]:
        """``term`` and every rewrite of it with one synonym swapped for another of its group."""
        out = [term]
        low = term.lower()
        for group in self.synonyms:
            for word in group:
                w = word.lower()
                if w and w in low:
                    out += [low.replace(w, other.lower()) for other in group if other != word]
        return list(dict.fromkeys(out))
