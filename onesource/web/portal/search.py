"""Search over the open catalogue: datasets (releases) and catalogue entries (resources).

Chinese text is indexed as overlapping character bigrams (plus single characters for
one-character queries); Latin words and digit runs as lowercased words.  Why bigrams and
not a word segmenter (jieba with the catalog's terms as its dictionary):

- most Chinese queries are two to four characters, and a bigram index finds a two-character
  word inside any longer one (``人口`` in ``户籍人口``, ``投诉`` as a code label) without a
  dictionary that stewards would have to keep in step with the catalog;
- a segmenter splits ``社会保险参保信息`` one way in the catalog and ``社保`` another way in
  a query; bigrams need no agreement between the two sides, only synonyms for words that
  share no characters (``社保``/``社会保险``, ``公司``/``企业``), which stewards maintain in
  ``catalog/search.yaml``;
- the false matches bigrams add (a bigram across a word boundary) are kept out by two rules:
  query bigrams that occur nowhere in the catalog are ignored (they are boundary noise), and
  a document must cover at least half of the remaining query weight (idf-weighted).

Measured with ``bench/bench_search.py`` on ``bench/search_queries.yaml`` (recall@5 and MRR in
``bench/RESULTS.md``).  Ranking is BM25F: one BM25 score over weighted fields, title >
keywords > field and element names > department > summary > code-list labels, plus a bonus
when the whole query (or a synonym of it) appears in the title or is a keyword.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from schemas.catalog import Catalog
from schemas.resource import Resource
from schemas.search import SearchSettings
from schemas.vocab import OpenClass

WEIGHTS = {
    "title": 6.0,
    "keywords": 4.0,
    "fields": 2.5,
    "department": 2.0,
    "summary": 1.5,
    "codes": 1.0,
}
K1, B = 1.2, 0.75
# theme and subject codes -> (Chinese, English) labels, searched and shown on the listing
THEMES = {
    "public_service": ("公共服务", "Public services"),
    "housing": ("住房", "Housing"),
    "health": ("医疗卫生", "Health"),
    "legal_entity": ("法人", "Legal entities"),
    "credit": ("社会信用", "Credit"),
    "urban_governance": ("城市治理", "Urban governance"),
    "population": ("人口", "Population"),
    "education": ("教育", "Education"),
    "social_security": ("社会保障", "Social security"),
    "civil_affairs": ("民政", "Civil affairs"),
    "hrss": ("人力资源和社会保障", "Employment and social security"),
    "geospatial": ("自然资源和空间地理", "Natural resources and geospatial"),
    "e_licence": ("电子证照", "Electronic licences"),
}
MIN_COVERAGE = 0.5
# words that say nothing about which dataset is wanted ("人口数据", "the data of ...")
NOISE = re.compile(
    r"数据集|数据|信息|资料|查询|查找|下载|有关|相关|关于|哪里|哪些|怎么|有没有|的"
    r"|\b(?:data|dataset|datasets|of|the|and|in|by|for|a|an|on|about)\b",
    re.IGNORECASE,
)
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{_CJK}]+|[a-z0-9]+")


def _stem(word: str) -> str:
    """English plurals, crudely: companies -> company, tickets -> ticket."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word


def listed_resources(catalog: Catalog) -> list[Resource]:
    """Resources the open catalogue lists as entries of their own: not fed into a release
    (the release represents them), closed ones only when the steward allows."""
    fed = {i.resource for r in catalog.releases.values() for i in r.inputs}
    return [
        r
        for r in catalog.resources.values()
        if r.name not in fed
        and (r.open_class is not OpenClass.closed or catalog.search.list_closed)
    ]


def index_terms(text: str) -> list[str]:
    """Terms of a catalog text: every CJK character and bigram, every Latin word."""
    out: list[str] = []
    for run in _RUNS.findall(text.lower()):
        if run[0].isascii():
            out.append(_stem(run))
        else:
            out += list(run)
            out += [run[i : i + 2] for i in range(len(run) - 1)]
    return out


def query_terms(text: str, noise: bool = True) -> list[str]:
    """Terms of a query: bigrams of CJK runs (a lone character stays one), Latin words;
    without the noise words, unless the query is nothing else (``数据``)."""
    out: list[str] = []
    low = text.lower()
    kept = NOISE.sub(" ", low) if noise else low
    if noise and not _RUNS.search(kept):
        kept = low
    for run in _RUNS.findall(kept):
        if run[0].isascii():
            out.append(_stem(run))
        elif len(run) == 1:
            out.append(run)
        else:
            out += [run[i : i + 2] for i in range(len(run) - 1)]
    return list(dict.fromkeys(out))


@dataclass
class Doc:
    """One searchable thing: ``key`` is ``dataset:<release>`` or ``entry:<resource>``."""

    key: str
    fields: dict[str, list[str]]  # field -> its texts (one keyword, "诉求类别 投诉", ...)
    lengths: dict[str, int] = field(default_factory=dict)


@dataclass
class Hit:
    key: str
    score: float
    terms: tuple[str, ...]  # the query terms (of the best synonym rewrite) that matched
    matches: list[tuple[str, str]]  # (field, text) outside title/summary that matched


def documents(catalog: Catalog) -> list[Doc]:
    """Datasets (releases) and catalogue entries (resources) with their searchable texts."""
    docs: list[Doc] = []
    for rel in catalog.releases.values():
        fields: list[str] = []
        codes: list[str] = []
        for col_name in rel.output_columns:
            col = rel.columns[col_name]
            ref, fname = col.source.split(".", 1)
            res = catalog.resources.get(ref)
            spec = res.fields.get(fname) if res else None
            if spec is None:
                continue
            el = catalog.field_element(spec)
            names = [col.title, el.name if el else spec.name, el.name_en if el else spec.name_en]
            fields.append(" / ".join(dict.fromkeys(n for n in names if n)))
            codes += _code_labels(catalog, el.code_list if el else spec.code_list, names[1])
        dept = catalog.departments.get(rel.publisher)
        inputs = [
            catalog.resources[i.resource] for i in rel.inputs if i.resource in catalog.resources
        ]
        docs.append(
            Doc(
                f"dataset:{rel.name}",
                {
                    "title": [rel.title, rel.title_en],
                    # what it is made from names it too (医疗机构预约挂号信息 -> 挂号)
                    "keywords": list(rel.keywords)
                    + [t for res in inputs for t in (res.title, *res.keywords)],
                    "fields": fields,
                    "department": [dept.name, dept.name_en] if dept else [],
                    # the theme is broad: weighed as summary text, not as a keyword
                    "summary": [rel.summary, *THEMES.get(rel.theme, (rel.theme,))],
                    "codes": codes,
                },
            )
        )
    for res in listed_resources(catalog):
        fields, codes = [], []
        for spec in res.fields.values():
            el = catalog.field_element(spec)
            name = el.name if el else spec.name
            fields.append(" / ".join(n for n in (name, el.name_en if el else spec.name_en) if n))
            codes += _code_labels(catalog, el.code_list if el else spec.code_list, name)
        dept = catalog.departments.get(res.provider)
        docs.append(
            Doc(
                f"entry:{res.name}",
                {
                    "title": [res.title, res.title_en],
                    "keywords": list(res.keywords),
                    "fields": fields,
                    "department": [dept.name, dept.name_en] if dept else [],
                    "summary": [res.summary, *THEMES.get(res.classification.subject, ())],
                    "codes": codes,
                },
            )
        )
    return docs


def _code_labels(catalog: Catalog, code_list: str | None, field_name: str | None) -> list[str]:
    cl = catalog.code_lists.get(code_list) if code_list else None
    if cl is None:
        return []
    head = field_name or cl.title
    return [f"{head}：{v.label}" + (f" / {v.label_en}" if v.label_en else "") for v in cl.values]


class SearchIndex:
    """An in-memory BM25F index over the catalog; built once per catalog object."""

    def __init__(self, catalog: Catalog, docs: list[Doc] | None = None) -> None:
        self.settings: SearchSettings = catalog.search
        self.docs = documents(catalog) if docs is None else docs
        self.postings: dict[str, dict[int, dict[str, int]]] = defaultdict(dict)
        totals: dict[str, int] = defaultdict(int)
        for i, doc in enumerate(self.docs):
            for fname, texts in doc.fields.items():
                terms = [t for text in texts for t in index_terms(text)]
                doc.lengths[fname] = len(terms)
                totals[fname] += len(terms)
                for t in terms:
                    tf = self.postings[t].setdefault(i, {})
                    tf[fname] = tf.get(fname, 0) + 1
        n = max(len(self.docs), 1)
        self.avg = {f: max(totals[f] / n, 1.0) for f in WEIGHTS}
        self.idf = {
            t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self.postings.items()
        }

    def search(self, query: str, limit: int | None = None) -> list[Hit]:
        """Documents matching ``query`` (and its synonym rewrites), best first."""
        kept = "".join(c for c in query[:200] if c.isprintable() or c.isspace())
        q = " ".join(kept.split())
        if not q:
            return []
        best: dict[int, tuple[float, tuple[str, ...]]] = {}
        for alt in self.settings.alternatives(q):
            terms = [t for t in query_terms(alt) if t in self.postings]
            if not terms:
                continue
            phrases = [p for p in NOISE.sub(" ", alt.lower()).split() if p]
            for i, (score, matched) in self._score(terms, phrases).items():
                # best rewrite's score; every rewrite's matched terms, to highlight them all
                before, seen = best.get(i, (0.0, ()))
                best[i] = (max(score, before), tuple(dict.fromkeys(seen + matched)))
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], self.docs[kv[0]].key))
        hits = [Hit(self.docs[i].key, s, m, self._matches(i, m)) for i, (s, m) in ranked]
        return hits[:limit] if limit is not None else hits

    def _score(
        self, terms: list[str], phrases: list[str]
    ) -> dict[int, tuple[float, tuple[str, ...]]]:
        total = sum(self.idf[t] for t in terms)
        scores: dict[int, float] = defaultdict(float)
        covered: dict[int, float] = defaultdict(float)
        matched: dict[int, list[str]] = defaultdict(list)
        for t in terms:
            idf = self.idf[t]
            for i, tfs in self.postings[t].items():
                lengths = self.docs[i].lengths
                tf = sum(
                    WEIGHTS[f] * c / (1 - B + B * lengths[f] / self.avg[f]) for f, c in tfs.items()
                )
                scores[i] += idf * tf / (K1 + tf)
                covered[i] += idf
                matched[i].append(t)
        out: dict[int, tuple[float, tuple[str, ...]]] = {}
        for i, score in scores.items():
            coverage = covered[i] / total if total else 0.0
            if coverage < MIN_COVERAGE:
                continue
            fields = self.docs[i].fields
            bonus = sum(
                (3.0 if any(p in t.lower() for t in fields["title"]) else 0.0)
                + (2.0 if any(p == k.lower() for k in fields["keywords"]) else 0.0)
                for p in phrases
            )
            out[i] = (score * coverage * coverage + bonus, tuple(matched[i]))
        return out

    def _matches(self, i: int, terms: tuple[str, ...]) -> list[tuple[str, str]]:
        found = []
        for fname in ("keywords", "fields", "codes", "department"):
            for text in self.docs[i].fields[fname]:
                low = text.lower()
                if any(t in low for t in terms):
                    found.append((fname, text))
        return found


def highlight(text: str, terms: tuple[str, ...] | list[str]) -> Markup:
    """``text`` HTML-escaped, with every occurrence of a matched term wrapped in ``<mark>``."""
    low = text.lower()
    marked = [False] * len(text)
    for t in terms:
        start = low.find(t)
        while t and start >= 0:
            if t.isascii() and start > 0 and low[start - 1].isalnum():
                start = low.find(t, start + 1)  # a Latin word matches from its beginning
                continue
            for k in range(start, min(start + len(t), len(text))):
                marked[k] = True
            start = low.find(t, start + 1)
    out, k = [], 0
    while k < len(text):
        j = k
        while j < len(text) and marked[j] == marked[k]:
            j += 1
        piece = escape(text[k:j])
        out.append(Markup("<mark>") + piece + Markup("</mark>") if marked[k] else piece)
        k = j
    return Markup("").join(out)
