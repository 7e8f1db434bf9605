"""Choose the part of a passage that answers: candidate windows, their features, a learned ranker.

Candidates are the passage's sentences, runs of up to ``RUN_SENTENCES`` consecutive sentences
that fit in ``RUN_CHARS`` (an answer listed over clauses that end in ；), and windows of
consecutive clauses inside long sentences. Each is described by what tells an answering
sentence apart (the question's terms it holds, weighted within the passage, and its
characters, for an answer in other words; its dense similarity; whether it holds the kind of
thing asked for; its neighbours; how close together the question's terms sit in it; whether
it only restates the question) and scored by a small LightGBM ranker (lambdarank) trained on
the public sets (``bench/train_excerpt_ranker.py``; trees in ``bot/models/excerpt_ranker.json``). A length
penalty chosen with it (on the characters past a free allowance) keeps excerpts short. The
result is always a verbatim slice of the passage, at most ``MAX_EXCERPT_CHARS`` long.
"""

from __future__ import annotations

import functools
import math
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings import lexical
from embeddings.documents import Passage
from embeddings.text import CJK_CHAR, fold

from .tree_ranker import TreeRanker
from .question import CHINESE_FUNCTION, Question, asked_about
from .retrieval import TermWeights

MAX_EXCERPT_CHARS = 150
MIN_SENTENCE_CHARS = 12  # shorter than this, a sentence is a fragment (a feature of the ranker)
RUN_CHARS = 150  # consecutive sentences are a candidate together when they fit in this many chars
RUN_SENTENCES = 3  # and are at most this many
WINDOW_CHARS = 80  # sentences longer than this also give windows of consecutive clauses
TITLE_DISCOUNT = 0.0  # title terms name the subject of every sentence: they do not choose one
MODEL_PATH = Path(__file__).parent / "models" / "excerpt_ranker.json"  # trees + length penalty
RETRAIN = "python bench/train_excerpt_ranker.py"

_CLAUSE = re.compile(r"[，,、；;：:]")
_NUMERAL = r"[0-9０-９]|[一二三四五六七八九十百千万亿两]+[个只名位人次年天岁项家户元吨余多]"
TYPE_EVIDENCE = {
    "number": re.compile(_NUMERAL),
    "date": re.compile(r"\d{1,4}\s*[年月日]|[一二三四五六七八九十]+月|世纪|年代|春|夏|秋|冬|\b\d{4}\b"),
    "person": re.compile(r"[\u4e00-\u9fff]{1,3}(?:说|书记|主任|局长|记者|先生|女士|教授|表示)|“"),
    "place": re.compile(r"[\u4e00-\u9fff](?:市|省|区|县|镇|村|乡|街道|社区|路|河|山|湖|岛|国|州|港|馆|中心|基地|学校)|位于|地处|坐落"),
    "name": re.compile(r"《[^》]+》|“[^”]+”|「[^」]+」|又名|又称|别称|别名|简称|称为|誉为|人称|俗称"),
}


@dataclass
class Excerpt:
    start: int
    end: int
    score: float  # the ranker's score minus the length penalty
    dense: float  # similarity of its closest sentence to the question


@dataclass(frozen=True)
class Window:
    """A candidate excerpt: ``[start, end)`` of the passage, over sentences ``first..last``."""

    start: int
    end: int
    first: int
    last: int
    kind: str  # "sentence", "run" (of consecutive sentences) or "clauses"


FEATURES = [
    "overlap", "overlap_gap", "coverage", "dense", "dense_gap", "dense_mean_gap", "dense_rank",
    "type_match", "position", "first_sentence", "last_sentence", "chars", "joined", "clauses",
    "short_first", "short_last", "before_overlap", "after_overlap", "before_dense_gap",
    "after_dense_gap", "term_spread", "novelty", "restates", "latin_dense_gap", "latin_overlap",
    "pair_share", "pair_gap", "longest_run", "longest_gap", "coverage_gap", "asks_type", "asks_reason",
    "type_novel", "char_share", "char_gap",
]


class ExcerptRanker:
    """The learned ranker of candidate windows (LightGBM lambdarank), with the length penalty
    chosen with it: ``score = ranker(features) - length_penalty * max(chars - free_chars, 0) / 100``.
    Characters up to ``free_chars`` cost nothing: a short sentence is not better for being shorter."""

    def __init__(self, ranker: TreeRanker):
        self.ranker = ranker
        self.length_penalty = ranker.settings["length_penalty"]
        self.free_chars = ranker.settings["free_chars"]

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "ExcerptRanker":
        return cls(TreeRanker.load(path, FEATURES, ("length_penalty", "free_chars"), RETRAIN))

    def scores(self, table: np.ndarray) -> np.ndarray:
        return self.ranker.scores(table, FEATURES) - length_cost(
            table[:, FEATURES.index("chars")] * 100, self.length_penalty, self.free_chars
        )


def length_cost(chars: np.ndarray, penalty: float, free_chars: float) -> np.ndarray:
    """What a window's length takes off its score (the trainer chooses both numbers)."""
    return penalty * np.maximum(chars - free_chars, 0.0) / 100.0


def candidate_windows(text: str, spans: list[tuple[int, int]]) -> list[Window]:
    windows: list[Window] = []
    for i, (start, end) in enumerate(spans):
        if end - start <= MAX_EXCERPT_CHARS:
            windows.append(Window(start, end, i, i, "sentence"))
        if end - start > WINDOW_CHARS:
            windows += _clause_windows(text, start, end, i)
        last = i + 1
        while last < len(spans) and last - i < RUN_SENTENCES and spans[last][1] - start <= RUN_CHARS:
            windows.append(Window(start, spans[last][1], i, last, "run"))
            last += 1
    return windows


def _clause_windows(text: str, start: int, end: int, sentence: int) -> list[Window]:
    """Each clause with as many following clauses as fit in ``WINDOW_CHARS``, and in
    ``MAX_EXCERPT_CHARS`` (a single clause longer than that is cut there: the only cut not at
    a clause mark)."""
    cuts = sorted({start, end, *(m.end() for m in _CLAUSE.finditer(text, start, end))})
    clauses = list(zip(cuts, cuts[1:]))
    windows, seen = [], {(start, end)}
    for first in range(len(clauses)):
        for limit in (WINDOW_CHARS, MAX_EXCERPT_CHARS):
            last = first
            while last + 1 < len(clauses) and clauses[last + 1][1] - clauses[first][0] <= limit:
                last += 1
            a, b = clauses[first][0], min(clauses[last][1], clauses[first][0] + MAX_EXCERPT_CHARS)
            if (a, b) not in seen and text[a:b].strip():
                seen.add((a, b))
                windows.append(Window(a, b, sentence, sentence, "clauses"))
    return windows


def _local_weights(
    question: Question, token_sets: list[set[str]], title_terms: set[str], weights: TermWeights
) -> dict[str, float]:
    """Question-term weights for telling one passage's sentences apart.

    A term found in most of the passage's sentences, or in its title, names what the whole
    article is about and says nothing about which sentence answers: like BM25 across
    passages, it is discounted across sentences (title terms entirely; measured on CMRC,
    excerpt hit@1 0.754 -> 0.79 on the half of the questions not used to choose it).
    """
    count = len(token_sets)
    raw = {}
    terms = question.weighted_terms
    for term, weight in terms.items():
        found = sum(term in tokens for tokens in token_sets)
        spread = _spread(found, count)
        raw[term] = weight * weights.idf(term) * spread * (TITLE_DISCOUNT if term in title_terms else 1.0)
    total = sum(w * weights.idf(t) for t, w in terms.items()) or 1.0
    return {term: value / total for term, value in raw.items()}


def _spread(found: int | np.ndarray, count: int) -> float | np.ndarray:
    """How much a term (or character) found in ``found`` of a passage's ``count`` sentences
    tells them apart: 1 when no sentence holds it, near 0 when every one does (BM25's idf,
    across sentences). ``found`` may be a number or an array."""
    return np.log1p((count - found + 0.5) / (found + 0.5)) / math.log(1 + (count + 0.5) / 0.5)


@dataclass
class _Layout:
    """Everything about a passage's windows that does not depend on the question (cached)."""

    windows: list[Window]
    tokens: list[frozenset[str]]  # per window
    first: np.ndarray
    last: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    folded: str  # the passage text as tokens see it (normalised, lower case)
    codes: np.ndarray  # its characters' code points
    content: np.ndarray  # prefix sums of letters and digits, for shares of a window's content
    types: dict[str, np.ndarray]  # per answer type: does the window hold evidence of it
    evidence: dict[str, list[tuple[int, int]]]  # per answer type: where the passage holds it
    static: np.ndarray  # the question-independent feature columns
    title_terms: set[str]


_STATIC = ["position", "first_sentence", "last_sentence", "chars", "joined", "clauses", "short_first", "short_last"]


_LAYOUTS: OrderedDict[tuple[str, str], _Layout] = OrderedDict()
LAYOUT_CACHE = 4096  # passages whose windows are kept between questions


def _layout_of(passage: Passage, spans: list[tuple[int, int]], token_sets: list[set[str]]) -> _Layout:
    key = (passage.id, passage.text)
    layout = _LAYOUTS.get(key)
    if layout is None:
        layout = _LAYOUTS[key] = _layout(passage.text, passage.title, spans, token_sets)
        if len(_LAYOUTS) > LAYOUT_CACHE:
            _LAYOUTS.popitem(last=False)
    return layout


def _layout(text: str, title: str, spans: list[tuple[int, int]], sentence_tokens: list[set[str]]) -> _Layout:
    windows = candidate_windows(text, spans) or [Window(0, len(text), 0, len(spans) - 1, "sentence")]
    tokens = [
        frozenset(lexical.tokens(text[w.start : w.end])) if w.kind == "clauses"
        else frozenset().union(*sentence_tokens[w.first : w.last + 1])
        for w in windows
    ]
    folded = fold(text)
    content = np.concatenate([[0], np.cumsum([c.isalnum() for c in folded])])
    count = len(spans)
    short = [_content_length(text[a:b]) < MIN_SENTENCE_CHARS for a, b in spans]
    static = np.array([
        [
            w.first / (count - 1) if count > 1 else 0.0, float(w.first == 0), float(w.last == count - 1),
            (w.end - w.start) / 100.0, float(w.last - w.first), float(w.kind == "clauses"),
            float(short[w.first]), float(short[w.last]),
        ]
        for w in windows
    ])
    evidence = {kind: [m.span() for m in pattern.finditer(text)] for kind, pattern in TYPE_EVIDENCE.items()}
    types = {
        kind: np.array([bool(pattern.search(text, w.start, w.end)) for w in windows]) for kind, pattern in TYPE_EVIDENCE.items()
    }
    return _Layout(
        windows, tokens, np.array([w.first for w in windows]), np.array([w.last for w in windows]),
        np.array([w.start for w in windows]), np.array([w.end for w in windows]), folded, _codes(folded), content,
        types, evidence, static, set(lexical.tokens(title)),
    )


def _content_length(text: str) -> int:
    return len(re.sub(r"[\W_]", "", text))


def _occurrences(folded: str, needle: str) -> list[int]:
    found, at = [], folded.find(needle)
    while at >= 0:
        found.append(at)
        at = folded.find(needle, at + 1)
    return found


def _inside(positions: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """For each window, whether any of the (sorted) positions lies in ``[start, end)``."""
    return np.searchsorted(positions, starts) < np.searchsorted(positions, ends)


@functools.lru_cache(maxsize=256)
def _question_pairs(simplified: str) -> list[str]:
    """The question's character pairs in order (question words and punctuation break runs);
    cached, since every passage of a question asks for them."""
    pairs = []
    for run in re.split(r"[\W_]+", asked_about(simplified)):
        pairs += [run[i : i + 2] for i in range(len(run) - 1)] + [""]
    return pairs


@functools.lru_cache(maxsize=256)
def _question_chars(simplified: str) -> tuple[str, ...]:
    """The question's own Chinese characters (question words and particles left out): a window
    can say what is asked in other words that still share a character (颜色 and 银灰色)."""
    return tuple(dict.fromkeys(c for c in asked_about(simplified) if CJK_CHAR.match(c) and c not in CHINESE_FUNCTION))


def _codes(text: str) -> np.ndarray:
    """The text's characters as code points, for comparing them all at once."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _char_share(
    codes: np.ndarray, chars: tuple[str, ...], spans: list[tuple[int, int]], starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """The share of the question's characters a window holds, each weighted by how few of the
    passage's sentences hold it (a character in every sentence names the subject)."""
    if not chars:
        return np.zeros(len(starts))
    found = np.zeros((len(codes) + 1, len(chars)), dtype=np.int32)  # prefix counts per character
    np.cumsum(codes[:, None] == _codes("".join(chars))[None, :], axis=0, out=found[1:])
    bounds = np.array(spans)
    in_sentences = ((found[bounds[:, 1]] - found[bounds[:, 0]]) > 0).sum(axis=0)
    count = len(spans)
    weights = _spread(in_sentences, count)
    return ((found[ends] - found[starts]) > 0) @ weights / weights.sum()


def window_table(
    passage: Passage,
    sentence_vectors: np.ndarray,
    query_vector: np.ndarray,
    question: Question,
    weights: TermWeights,
    sentence_terms: list[set[str]] | None = None,
) -> tuple[list[Window], np.ndarray]:
    """The candidate windows of a passage and their features (one row each, ``FEATURES`` order).

    Computed for every window at once (it runs for every hit of every question)."""
    text = passage.text
    spans = passage.sentences or [(0, len(text))]
    token_sets = sentence_terms if sentence_terms and len(sentence_terms) == len(spans) else [
        set(lexical.tokens(text[a:b])) for a, b in spans
    ]
    layout = _layout_of(passage, spans, token_sets)
    similarity = sentence_vectors @ query_vector if len(sentence_vectors) == len(spans) else np.zeros(len(spans))
    similarity = np.asarray(similarity, dtype=np.float64)
    dense = similarity - similarity.max()  # 0 for the closest sentence
    rank = np.empty(len(spans))
    rank[np.argsort(-dense, kind="stable")] = np.arange(len(spans))
    local = _local_weights(question, token_sets, layout.title_terms, weights)
    terms = list(question.weighted_terms)
    idf = np.array([question.weighted_terms[t] * weights.idf(t) for t in terms])
    local_weights = np.array([local[t] for t in terms])
    present = np.array([[t in tokens for t in terms] for tokens in layout.tokens], dtype=np.float64).reshape(
        len(layout.windows), len(terms)
    )
    in_sentence = np.array([[t in tokens for t in terms] for tokens in token_sets], dtype=np.float64).reshape(
        len(spans), len(terms)
    )
    overlap = present @ local_weights
    coverage = present @ idf / idf.sum() if idf.sum() > 0 else np.zeros(len(layout.windows))
    sentence_overlap = in_sentence @ local_weights
    first, last, starts, ends = layout.first, layout.last, layout.starts, layout.ends
    # where the question's own terms stand: how spread out they are, and what else the window says
    covered = np.zeros(len(text), dtype=bool)
    for term in terms:
        for at in _occurrences(layout.folded, term):
            covered[at : at + len(term)] = True
    positions = np.flatnonzero(covered)
    inside = _inside(positions, starts, ends)
    first_at = positions[np.minimum(np.searchsorted(positions, starts), max(0, len(positions) - 1))] if len(positions) else starts
    last_at = positions[np.maximum(np.searchsorted(positions, ends) - 1, 0)] if len(positions) else starts
    spread = np.where(inside & (present.sum(axis=1) > 1), (last_at - first_at + 1) / (ends - starts), 0.0)
    covered_content = np.concatenate([[0], np.cumsum(covered & (np.diff(layout.content) > 0))])
    content = layout.content[ends] - layout.content[starts]
    novelty = np.where(content > 0, 1 - (covered_content[ends] - covered_content[starts]) / np.maximum(content, 1), 0.0)
    # the question's character pairs: share found, and the longest run of consecutive ones
    share = np.zeros(len(layout.windows))
    run = np.zeros(len(layout.windows))
    longest = np.zeros(len(layout.windows))
    pairs = _question_pairs(question.simplified)
    total = sum(1 for pair in pairs if pair)
    for pair in pairs:
        if not pair:
            run[:] = 0
            continue
        found = _inside(np.array(_occurrences(layout.folded, pair)), starts, ends - 1)
        share += found
        run = (run + 1) * found
        longest = np.maximum(longest, run)
    share = share / total if total else share
    longest = np.minimum(1.0, longest / 8)
    type_match = np.zeros(len(layout.windows))
    novel_at = []  # evidence of the kind asked for that is not the question's own words
    for kind in question.answer_types:
        type_match = np.maximum(type_match, layout.types[kind])
        novel_at += [a for a, b in layout.evidence[kind] if not covered[a:b].all()]
    type_novel = _inside(np.array(sorted(novel_at)), starts, ends).astype(float)
    window_dense = _over_sentences(np.maximum, dense, first, last)
    char_share = _char_share(layout.codes, _question_chars(question.simplified), spans, starts, ends)
    latin = float(question.script == "latin")
    count = len(spans)
    before, after = first - 1, last + 1
    has_before, has_after = before >= 0, after < count
    columns = {
        "overlap": overlap, "overlap_gap": overlap - overlap.max(), "coverage": coverage,
        "coverage_gap": coverage - coverage.max(), "dense": _over_sentences(np.maximum, similarity, first, last),
        "dense_gap": window_dense, "dense_mean_gap": (dense[first] + dense[last]) / 2,
        "dense_rank": 1.0 / (1.0 + _over_sentences(np.minimum, rank, first, last)),
        "type_match": type_match, "type_novel": type_novel,
        "before_overlap": np.where(has_before, sentence_overlap[np.maximum(before, 0)], 0.0),
        "after_overlap": np.where(has_after, sentence_overlap[np.minimum(after, count - 1)], 0.0),
        "before_dense_gap": np.where(has_before, dense[np.maximum(before, 0)], -1.0),
        "after_dense_gap": np.where(has_after, dense[np.minimum(after, count - 1)], -1.0),
        "term_spread": spread, "novelty": novelty, "restates": ((coverage >= 0.9) & (novelty < 0.4)).astype(float),
        "latin_dense_gap": latin * window_dense, "latin_overlap": latin * overlap,
        "pair_share": share, "pair_gap": share - share.max(), "longest_run": longest,
        "longest_gap": longest - longest.max(),
        "asks_type": np.full(len(layout.windows), float(bool(question.answer_types))),
        "asks_reason": np.full(len(layout.windows), float(question.asks_reason)),
        "char_share": char_share, "char_gap": char_share - char_share.max(),
    }
    for i, name in enumerate(_STATIC):
        columns[name] = layout.static[:, i]
    return layout.windows, np.column_stack([columns[name] for name in FEATURES])


def _over_sentences(reduce: np.ufunc, values: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """``reduce`` of a per-sentence value over each window's sentences (``first`` to ``last``)."""
    result = values[first]
    for offset in range(1, RUN_SENTENCES):
        result = reduce(result, values[np.minimum(first + offset, last)])
    return result


def select_excerpts(
    passages: list[tuple[Passage, np.ndarray, list[set[str]] | None]],
    query_vector: np.ndarray,
    question: Question,
    weights: TermWeights,
    ranker: ExcerptRanker,
) -> list[Excerpt]:
    """The best window of each (passage, its sentence vectors, its sentences' terms)."""
    return [best[0] for best in ranked_excerpts(passages, query_vector, question, weights, ranker, 1)]


def ranked_excerpts(
    passages: list[tuple[Passage, np.ndarray, list[set[str]] | None]],
    query_vector: np.ndarray,
    question: Question,
    weights: TermWeights,
    ranker: ExcerptRanker,
    per_passage: int,
) -> list[list[Excerpt]]:
    """The ``per_passage`` best windows of each passage, best first, ranked in one call of the
    model for all of them (the reader may then choose among them: ``bot.reader_choice``)."""
    tables = [window_table(p, vectors, query_vector, question, weights, terms) for p, vectors, terms in passages]
    if not tables:
        return []
    scores = ranker.scores(np.vstack([table for _, table in tables]))
    ranked, offset = [], 0
    for windows, table in tables:
        mine = scores[offset : offset + len(windows)]
        offset += len(windows)
        order = np.argsort(-mine, kind="stable")[:per_passage]
        ranked.append([
            Excerpt(windows[i].start, windows[i].end, float(mine[i]), float(table[i, FEATURES.index("dense")]))
            for i in order
        ])
    return ranked
