"""Optimal search over the generalization lattice, on frequency sets.

A lattice node is one level per quasi-identifier.  A node *satisfies* when
the records in classes that are too small (fewer than ``k`` records, or
fewer than ``l`` distinct non-null values of a sensitive attribute) number
at most the suppression budget.  That property is monotone: merging classes
never creates a small class, so if a node satisfies, every generalization
does; if it fails, every specialization fails.

Information loss (``metric="loss"``, after ARX's *Loss*): for a column at a
level, each record loses ``(g - 1) / (D - 1)`` where ``g`` is how many of
the column's ``D`` distinct input values share the record's generalized
label; the column's loss is the mean over records and a node's loss is the
weighted mean over columns (0 = untouched, 1 = everything ``*``).  It is
computed from value counts alone, before any node is checked, and never
decreases under generalization.  ``metric="height"`` uses ``level / top``
instead.  Suppressed records are charged as fully generalized (loss 1 in
every column), as ARX's loss metric does with its generalization/suppression
factor at 0.5: a node's loss is ``(sum of the kept records' losses + number
of suppressed records) / records``.

Search: nodes sorted by their generalization loss (loss, height, levels) — a
linear extension of the lattice order — are decided in turn.  The
generalization loss is a lower bound of the total loss, so the search stops
at the first node whose generalization loss is not below the best total
loss of a satisfying node found so far; without a suppression budget that
is the first satisfying node.
To decide a node, nodes on the chain from it to the top are checked by
binary search (coarser nodes are cheaper and a failure prunes everything
below), and every result is propagated (predictive tagging).  A node is
checked on a frequency set (distinct combinations of codes with counts)
rolled up from the smallest cached frequency set of a specialization, or
from the rows when there is none.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from onesource.anonymize.encoding import EncodedColumn, combine, group

Node = tuple[int, ...]


@dataclass
class FrequencySet:
    """Distinct (quasi-identifier codes at ``levels``, sensitive codes) with counts."""

    levels: Node
    codes: list[np.ndarray]
    sensitive: list[np.ndarray]
    counts: np.ndarray

    def __len__(self) -> int:
        return len(self.counts)


@dataclass(frozen=True)
class Verdict:
    """What checking one node found."""

    satisfies: bool
    outliers: int  # records in classes that are too small
    classes: int
    # sum over suppressed records of (1 - their generalization loss): what
    # suppressing them adds to the node's loss, times the record count
    suppression_excess: float = 0.0


@dataclass
class SearchStats:
    nodes_total: int = 0
    nodes_checked: int = 0
    checks_from_rows: int = 0
    tagged: int = 0
    order: list[Node] = field(default_factory=list)


@dataclass(frozen=True)
class Sensitive:
    codes: np.ndarray
    cardinality: int
    null_code: int


class Lattice:
    """The generalization lattice of some encoded columns over one table."""

    def __init__(
        self,
        columns: Sequence[EncodedColumn],
        bounds: Sequence[tuple[int, int]],
        *,
        k: int,
        max_outliers: int,
        sensitive: Sequence[Sensitive] = (),
        l_div: int | None = None,
        weights: Sequence[float] | None = None,
        metric: str = "loss",
        cache_entries: int | None = None,
    ) -> None:
        self.columns = list(columns)
        self.bounds = list(bounds)
        self.k = k
        self.max_outliers = max_outliers
        self.sensitive = list(sensitive)
        self.l_div = l_div
        self.n_rows = len(columns[0].row_codes) if columns else 0
        w = np.asarray(weights if weights is not None else [1.0] * len(columns), dtype=float)
        self.weights = w / w.sum() if w.sum() > 0 else w
        self.code_loss = [_code_loss(c, metric) for c in self.columns]
        self.col_loss = [
            np.array(
                [
                    float((cl[lv][c.maps[lv]] * c.counts).sum()) / max(float(c.counts.sum()), 1.0)
                    for lv in range(len(c.maps))
                ]
            )
            for c, cl in zip(self.columns, self.code_loss, strict=True)
        ]
        self.nodes = np.array(
            list(itertools.product(*[range(lo, hi + 1) for lo, hi in self.bounds])),
            dtype=np.int64,
        ).reshape(-1, len(self.columns))
        self.status = np.full(len(self.nodes), -1, dtype=np.int8)
        self.index = {tuple(int(x) for x in n): i for i, n in enumerate(self.nodes)}
        self.cache: dict[Node, FrequencySet] = {}
        self.cache_budget = cache_entries if cache_entries is not None else 2 * self.n_rows + 1000
        self.verdicts: dict[Node, Verdict] = {}
        self.stats = SearchStats(nodes_total=len(self.nodes))

    def loss(self, node: Node) -> float:
        """Generalization loss of a node over all records (0..1), before suppression."""
        return float(
            sum(w * cl[lv] for w, cl, lv in zip(self.weights, self.col_loss, node, strict=True))
        )

    def total_loss(self, node: Node) -> float:
        """Loss of a node with its suppressed records charged as fully generalized."""
        excess = self.check(node).suppression_excess
        return self.loss(node) + excess / max(self.n_rows, 1)

    def order(self) -> list[Node]:
        """Every node, least loss first; ties broken by height then levels."""
        nodes = [tuple(int(x) for x in n) for n in self.nodes]
        return sorted(nodes, key=lambda n: (round(self.loss(n), 12), sum(n), n))

    def search(self) -> Node | None:
        """The satisfying node of least loss, or None when even the top fails."""
        top = tuple(hi for _, hi in self.bounds)
        if not self._decide(top):
            return None
        best: Node | None = None
        best_loss = np.inf
        for node in self.order():
            if self.loss(node) >= best_loss - 1e-12:
                break  # no node from here on can have a smaller total loss
            if self._status(node) == -1:
                self._decide_via_chain(node)
            if self._status(node) == 1:
                total = self.total_loss(node)
                if total < best_loss - 1e-12:
                    best, best_loss = node, total
                if self.max_outliers == 0:
                    break  # nothing is suppressed: the first satisfying node is optimal
        return best if best is not None else top

    def check(self, node: Node) -> Verdict:
        """Check one node (cached), without tagging others."""
        if node in self.verdicts:
            return self.verdicts[node]
        fs = self.frequency_set(node)
        verdict = self._verdict(fs)
        self.verdicts[node] = verdict
        self.stats.nodes_checked += 1
        self.stats.order.append(node)
        return verdict

    def frequency_set(self, node: Node) -> FrequencySet:
        """The frequency set of ``node``, rolled up from the best cached source."""
        if node in self.cache:
            return self.cache[node]
        src = self._best_source(node)
        cols, cards = [], []
        for i, col in enumerate(self.columns):
            if src is None:
                cols.append(col.maps[node[i]][col.row_codes])
            else:
                cols.append(col.rollup(src.levels[i], node[i])[src.codes[i]])
            cards.append(col.cardinality(node[i]))
        if src is None:
            self.stats.checks_from_rows += 1
            sens = [s.codes for s in self.sensitive]
            weights = None
        else:
            sens, weights = src.sensitive, src.counts
        key, space, _ = combine(cols + sens, cards + [s.cardinality for s in self.sensitive])
        _, counts, rep, _ = group(key, weights, space)
        fs = FrequencySet(node, [c[rep] for c in cols], [s[rep] for s in sens], counts)
        self._remember(fs)
        return fs

    def bad_rows(self, node: Node) -> np.ndarray:
        """Boolean per input row: in a class that is too small at ``node``."""
        cols = [c.maps[node[i]][c.row_codes] for i, c in enumerate(self.columns)]
        cards = [c.cardinality(node[i]) for i, c in enumerate(self.columns)]
        sens = [s.codes for s in self.sensitive]
        key, space, _ = combine(cols + sens, cards + [s.cardinality for s in self.sensitive])
        _, counts, rep, inv = group(key, None, space, inverse=True)
        fs = FrequencySet(node, [c[rep] for c in cols], [s[rep] for s in sens], counts)
        assert inv is not None
        bad: np.ndarray = self._bad_entries(fs)[inv]
        return bad

    def _verdict(self, fs: FrequencySet) -> Verdict:
        bad = self._bad_entries(fs)
        outliers = int(fs.counts[bad].sum())
        classes = self._classes(fs)[1]
        excess = 0.0
        if outliers:
            kept_loss = np.zeros(int(bad.sum()))
            for w, cl, lv, codes in zip(
                self.weights, self.code_loss, fs.levels, fs.codes, strict=True
            ):
                kept_loss += w * cl[lv][codes[bad]]
            excess = float((fs.counts[bad] * (1.0 - kept_loss)).sum())
        return Verdict(outliers <= self.max_outliers, outliers, classes, excess)

    def _classes(self, fs: FrequencySet) -> tuple[np.ndarray, int, np.ndarray]:
        """(class index per entry, number of classes, class sizes)."""
        if not self.sensitive:
            return np.arange(len(fs)), len(fs), fs.counts
        cards = [c.cardinality(lv) for c, lv in zip(self.columns, fs.levels, strict=True)]
        key, space, _ = combine(fs.codes, cards)
        uniq, sizes, _, inv = group(key, fs.counts, space, inverse=True)
        assert inv is not None
        return inv, len(uniq), sizes

    def _bad_entries(self, fs: FrequencySet) -> np.ndarray:
        cls, n_classes, sizes = self._classes(fs)
        bad_class = sizes < self.k
        if self.l_div is not None:
            for s, codes in zip(self.sensitive, fs.sensitive, strict=True):
                keep = codes != s.null_code
                pairs = np.unique(cls[keep].astype(np.int64) * s.cardinality + codes[keep])
                distinct = np.bincount(pairs // s.cardinality, minlength=n_classes)
                bad_class |= distinct < self.l_div
        bad: np.ndarray = bad_class[cls]
        return bad

    def _best_source(self, node: Node) -> FrequencySet | None:
        best = None
        for levels, fs in self.cache.items():
            if all(a <= b for a, b in zip(levels, node, strict=True)) and (
                best is None or len(fs) < len(best)
            ):
                best = fs
        return best

    def _remember(self, fs: FrequencySet) -> None:
        if len(fs) > self.cache_budget:
            return
        self.cache[fs.levels] = fs
        total = sum(len(f) for f in self.cache.values())
        while total > self.cache_budget:
            biggest = max(self.cache, key=lambda n: len(self.cache[n]))
            total -= len(self.cache.pop(biggest))

    def _status(self, node: Node) -> int:
        return int(self.status[self.index[node]])

    def _decide(self, node: Node) -> bool:
        if self._status(node) != -1:
            return self._status(node) == 1
        ok = self.check(node).satisfies
        arr = np.asarray(node)
        # a pass holds for every generalization, a failure for every specialization
        hit = np.all(self.nodes >= arr, axis=1) if ok else np.all(self.nodes <= arr, axis=1)
        self.stats.tagged += int(np.count_nonzero(hit & (self.status == -1))) - 1
        self.status[hit] = 1 if ok else 0
        return ok

    def _decide_via_chain(self, node: Node) -> None:
        """Decide ``node`` by binary search on a chain up to the top, then,
        if it fails, climb to a maximal failing node so the failure tags as
        many specializations as possible."""
        chain = self._chain(node)
        lo, hi = 0, len(chain) - 1  # chain[hi] (the top) satisfies
        while True:
            known = [i for i in range(lo, hi + 1) if self._status(chain[i]) == 1]
            hi = min(known) if known else hi
            failed = [i for i in range(lo, hi) if self._status(chain[i]) == 0]
            lo = max(failed) + 1 if failed else lo
            if lo >= hi:
                break
            mid = (lo + hi - 1) // 2 if self._status(chain[lo]) == -1 else lo
            self._decide(chain[(lo + hi) // 2] if mid != lo else chain[mid])
        if self._status(node) == 0:
            self._climb(max((chain[i] for i in range(hi) if self._status(chain[i]) == 0), key=sum))

    def _chain(self, node: Node) -> list[Node]:
        """From ``node`` to the top, one level at a time, cheapest loss first."""
        top = [hi for _, hi in self.bounds]
        chain = [node]
        cur = list(node)
        while cur != top:
            steps = [
                (self.weights[i] * (self.col_loss[i][cur[i] + 1] - self.col_loss[i][cur[i]]), i)
                for i in range(len(cur))
                if cur[i] < top[i]
            ]
            cur[min(steps)[1]] += 1
            chain.append(tuple(cur))
        return chain

    def _climb(self, failing: Node) -> None:
        """Generalize a failing node one level at a time while it keeps failing."""
        top = [hi for _, hi in self.bounds]
        cur = failing
        moved = True
        while moved:
            moved = False
            for i in sorted(range(len(cur)), key=lambda i: self.col_loss[i][cur[i]]):
                if cur[i] >= top[i]:
                    continue
                up = tuple(lv + 1 if j == i else lv for j, lv in enumerate(cur))
                if self._status(up) == 1:
                    continue
                if not self._decide(up):
                    cur, moved = up, True
                    break


def _code_loss(col: EncodedColumn, metric: str) -> list[np.ndarray]:
    """Per level, the loss of each level code (0 = exact, 1 = ``*``)."""
    top = len(col.maps) - 1
    if metric == "height":
        return [np.full(col.cardinality(lv), lv / max(top, 1)) for lv in range(top + 1)]
    if metric != "loss":
        raise ValueError(f"unknown metric {metric!r}; known: loss, height")
    d = len(col.counts)
    out = []
    for level, m in enumerate(col.maps):
        if d <= 1:
            out.append(np.zeros(col.cardinality(level)))
            continue
        # distinct input values sharing each label
        size = np.bincount(m, minlength=col.cardinality(level))
        out.append((size - 1) / (d - 1))
    return out
