"""Values of the inputs' direct-identifier columns, looked for in published text.

Both sides are normalized the same way (NFKC, upper case, whitespace runs
made one space; plus a second form with all whitespace removed, so
``王 小 明`` is ``王小明``).  A published cell is a hit when:

- the whole cell equals a direct value (any length, even one character), or
- a direct value occurs inside it (Aho-Corasick over all values at once)
  and the characters on both sides of the occurrence are not ASCII letters
  or digits.  Chinese text has no spaces, so a name inside Chinese text is
  found; a Latin name or a number must stand as a whole word.  Values
  searched inside text must be long enough to mean something: 2+ chars if
  they hold a CJK character, 6+ chars if all digits, 3+ chars otherwise.

A two-character name that is also a common word (``高峰``) therefore refuses
a release that publishes free text containing that word: the gate prefers
a refused release to a published name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

SEP = "\x00"  # joins cells for one automaton pass; never part of a value


def _is_boundary(ch: str) -> bool:
    return not (ch.isascii() and ch.isalnum())


def searchable(values: pa.Array) -> pa.Array:
    """Long enough to look for inside text: 2+ chars with a CJK char, 6+ digits, else 3+."""
    import pyarrow.compute as pc

    n = pc.utf8_length(values)
    cjk = pc.match_substring_regex(values, "[\u3400-\u9fff\uf900-\ufaff]")
    digits = pc.utf8_is_digit(values)
    other = pc.if_else(digits, pc.greater_equal(n, 6), pc.greater_equal(n, 3))
    return pc.if_else(cjk, pc.greater_equal(n, 2), other)


def normalize_forms(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(whitespace made single spaces and trimmed, whitespace removed), both NFKC upper."""
    import pyarrow.compute as pc

    from onesource.anonymize.leakpatterns import normalize

    norm = normalize(text)
    spaced = pc.utf8_trim_whitespace(pc.replace_substring_regex(norm, r"\s+", " "))
    return spaced, pc.replace_substring_regex(norm, r"\s+", "")


@dataclass
class DirectValues:
    """The inputs' direct values, ready to match: one value set and one automaton."""

    values: pa.Array  # distinct normalized values of all input columns (both forms)
    value_owner: np.ndarray  # value index -> index into names
    names: list[str]  # input columns
    automaton: Any  # ahocorasick.Automaton or None
    owner: list[str]  # pattern index -> input column

    @classmethod
    def build(cls, direct: Mapping[str, pa.Array]) -> DirectValues:
        import ahocorasick
        import pyarrow.compute as pc

        names = list(direct)
        chunks, owners = [], []
        owner: list[str] = []
        auto = ahocorasick.Automaton()
        seen: pa.Array = pa.array([], pa.string())
        for i, name in enumerate(names):
            spaced, squeezed = normalize_forms(pc.drop_null(direct[name]))
            both = pc.unique(pa.chunked_array([spaced, squeezed]).combine_chunks())
            both = pc.filter(both, pc.greater(pc.utf8_length(both), 0))
            if len(seen):  # a value shared by two columns is reported for the first
                both = pc.filter(both, pc.invert(pc.is_in(both, value_set=seen)))
            seen = pa.concat_arrays([seen, both])
            chunks.append(both)
            owners.append(np.full(len(both), i, dtype=np.int32))
            for value in pc.filter(both, searchable(both)).to_pylist():
                auto.add_word(value, (len(owner), len(value)))
                owner.append(name)
        values = pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())
        value_owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int32)
        if len(auto):
            auto.make_automaton()
        return cls(values, value_owner, names, auto if len(auto) else None, owner)

    def rows(
        self, text: pa.Array, *, exact_only: bool = False
    ) -> dict[str, tuple[np.ndarray, str]]:
        """Per input column: (rows of ``text`` holding one of its values, an example).

        ``exact_only``: whole cells only (numeric columns, whose digits are not text).
        """
        import pyarrow.compute as pc

        n = len(text)
        out: dict[str, tuple[np.ndarray, str]] = {}
        enc = pc.dictionary_encode(text) if n else None
        if enc is None:
            return out
        uniq, idx = enc.dictionary, enc.indices.to_numpy(zero_copy_only=False)
        valid = enc.indices.is_valid().to_numpy(zero_copy_only=False)
        idx = np.where(valid, idx, 0)
        forms = normalize_forms(uniq)
        per_value: dict[str, tuple[np.ndarray, str]] = {}
        who = np.full(len(uniq), -1, dtype=np.int64)
        if len(self.values):
            for form in forms:
                at = pc.fill_null(pc.index_in(form, value_set=self.values), -1)
                at = at.to_numpy(zero_copy_only=False)
                fresh = (who < 0) & (at >= 0)
                who[fresh] = self.value_owner[at[fresh]]
        for i in np.unique(who[who >= 0]):
            hit = who == i
            per_value[self.names[int(i)]] = (hit, forms[0][int(np.flatnonzero(hit)[0])].as_py())
        if self.automaton is not None and not exact_only:
            self._inside(forms[0], per_value)
            differs = np.flatnonzero(
                pc.fill_null(pc.not_equal(forms[0], forms[1]), False).to_numpy(zero_copy_only=False)
            )
            if len(differs):
                sub: dict[str, tuple[np.ndarray, str]] = {}
                self._inside(pc.take(forms[1], pa.array(differs)), sub)
                for name, (hit, example) in sub.items():
                    prev, ex = per_value.get(name, (np.zeros(len(uniq), dtype=bool), ""))
                    prev[differs[hit]] = True
                    per_value[name] = (prev, ex or example)
        for name, (hit, example) in per_value.items():
            rows = hit[idx] & valid
            if rows.any():
                out[name] = (rows, example)
        return out

    def _inside(self, form: pa.Array, per_value: dict[str, tuple[np.ndarray, str]]) -> None:
        import pyarrow.compute as pc

        filled = pc.fill_null(form, "")
        lengths = pc.add(pc.utf8_length(filled), 1).to_numpy(zero_copy_only=False)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        one_list = pa.ListArray.from_arrays(pa.array([0, len(filled)], pa.int32()), filled)
        big = pc.binary_join(one_list, SEP)[0].as_py() or ""
        for end, (pattern, length) in self.automaton.iter(big):
            start = end - length + 1
            if (start > 0 and not _is_boundary(big[start - 1])) or (
                end + 1 < len(big) and not _is_boundary(big[end + 1])
            ):
                continue
            row = int(np.searchsorted(starts, start, side="right") - 1)
            name = self.owner[pattern]
            hit, example = per_value.get(name, (np.zeros(len(form), dtype=bool), ""))
            hit[row] = True
            per_value[name] = (hit, example or big[start : end + 1])
