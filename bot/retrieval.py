"""Hybrid retrieval: BM25 over Chinese-aware tokens beside dense vectors (FAISS), fused.

BM25 is precise when the question shares words with the article; the dense side finds the
passage when it does not (paraphrases, English questions about Chinese text). Two fusions are
available and measured by ``python -m bot eval``: reciprocal-rank fusion and a weighted sum of
min-max normalised scores.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from embeddings import lexical
from embeddings.index_backend import IndexBackend
from embeddings.text import CJK_WORD, normalise

from .question import Question

RRF_K = 60
FUSIONS = ("rrf", "weighted")


# How much the lexical ranking weighs against the dense one, at full evidence; a ranking whose
# best passage matches little of the question weighs proportionally less (see ``lexical_weight``).
# Chosen on the fitting halves of XQuAD (first 12 articles, English and Chinese questions) by a
# grid over {0.3, 0.5} x {0, 0.5, 0.8} x {0, 0.5}; the README gives the held-out figures.
LEXICAL_WEIGHT = 0.5
FULL_EVIDENCE = 0.8  # coverage of the question by the best BM25 passage that counts as full
# A passage's dense score mixes its own similarity with that of its closest sentence: a question
# is usually about one sentence, whose meaning the whole paragraph's vector dilutes.
SENTENCE_WEIGHT = 0.5


@dataclass
class Candidate:
    row: int
    dense: float
    bm25: float
    fused: float
    coverage: float = 0.0  # idf-weighted share of the question's terms found in the passage
    sentence_dense: float = 0.0  # similarity of the passage's closest sentence
    dense_rank: int = -1  # place in the dense ranking (-1: below its depth)
    bm25_rank: int = -1


@dataclass
class Retrieval:
    """The ranked candidates and what the rankings said overall (evidence for confidence)."""

    candidates: list[Candidate]
    lexical_weight: float = 0.0  # the weight BM25 got in the fusion for this question
    lexical_evidence: float = 0.0  # coverage of the question by the best BM25 passage
    dense_best: float = 0.0  # best dense score of any passage
    dense_second: float = 0.0
    bm25_best: float = 0.0
    bm25_second: float = 0.0


class TermWeights:
    """Inverse document frequencies from the index's BM25 statistics, for overlap and highlighting."""

    def __init__(self, index: IndexBackend):
        self._index = index
        self._total = max(1, index.passage_count)
        self._unseen = math.log(1 + (self._total + 0.5) / 0.5)
        self._frequencies: dict[str, int] = {}

    def prefetch(self, tokens) -> None:
        """Asks the index once for the frequencies of many tokens (one round trip to a server)."""
        wanted = [t for t in dict.fromkeys(tokens) if t and t not in self._frequencies]
        if wanted:
            if len(self._frequencies) > 100_000:
                self._frequencies.clear()
            self._frequencies.update(self._index.document_frequencies(wanted))

    def idf(self, token: str) -> float:
        """Computed when asked (and remembered for the tokens questions use): a vocabulary of
        millions of tokens is not copied into a second table."""
        count = self.document_frequency(token)
        return math.log(1 + (self._total - count + 0.5) / (count + 0.5)) if count else self._unseen

    def document_frequency(self, token: str) -> int:
        if token not in self._frequencies:
            self.prefetch([token])
        return self._frequencies.get(token, 0)

    def coverage(self, weighted: dict[str, float], present: set[str]) -> float:
        """idf-weighted share of the weighted terms found in ``present`` (0 when none weigh)."""
        total = sum(w * self.idf(t) for t, w in weighted.items())
        if total <= 0:
            return 0.0
        return sum(w * self.idf(t) for t, w in weighted.items() if t in present) / total


class HybridRetriever:
    def __init__(self, index: IndexBackend, fusion: str = "weighted", depth: int = 50):
        if fusion not in FUSIONS:
            raise ValueError(f"FUSION={fusion!r}: use one of {', '.join(FUSIONS)}")
        self.index = index
        self.fusion = fusion
        self.depth = depth
        self.weights = TermWeights(index)
        self._passage_terms: dict[int, set[str]] = {}
        self._sentence_terms: dict[int, list[set[str]]] = {}

    def passage_terms(self, row: int) -> set[str]:
        """Token sets are computed once per passage (jieba is the slow part of a question)."""
        if row not in self._passage_terms:
            passage = self.index.passage(row)
            self._passage_terms[row] = set(lexical.tokens(passage.title + " " + passage.text))
        return self._passage_terms[row]

    def sentence_terms(self, row: int) -> list[set[str]]:
        if row not in self._sentence_terms:
            passage = self.index.passage(row)
            text = passage.text
            spans = passage.sentences or [(0, len(text))]
            self._sentence_terms[row] = [set(lexical.tokens(text[a:b])) for a, b in spans]
        return self._sentence_terms[row]

    def knows(self, word: str) -> bool:
        """The corpus holds this Chinese word (all its character pairs are indexed). The pairs
        are asked first: most compounds of two translations are not there, and jieba is slow."""
        if any(self.weights.document_frequency(pair) == 0 for pair in character_pairs(word)):
            return False
        tokens = word_tokens(word)
        return bool(tokens) and all(self.weights.document_frequency(t) > 0 for t in tokens)

    def translate(self, question: Question, corpus_is_cjk: bool) -> None:
        """English words in a question about Chinese articles get Chinese search terms (CC-CEDICT);
        a mixed question (辽河的 fishing ban) gets them for its English words."""
        if not corpus_is_cjk or not question.latin_words:
            return
        from .translation import dictionary

        if self.index.round_trips:  # a server: one request for every word the dictionary may ask about
            self.weights.prefetch(t for word in dictionary().candidates(question.text) for t in word_tokens(word))
        for found in dictionary().translate(question.text, known=self.knows):
            for word in found.chinese:
                for token in lexical.tokens(word):
                    question.translated[token] = max(question.translated.get(token, 0.0), found.weight)
            question.translated_words.update(lexical.tokens(found.english))
            question.translations[found.english] = found.chinese

    def coverage(self, question: Question, row: int) -> float:
        """idf-weighted share of the question's terms (translations at their weight) in a passage."""
        return self.weights.coverage(question.weighted_terms, self.passage_terms(row))

    def search(self, question: Question, query_vector: np.ndarray, limit: int = 10) -> Retrieval:
        count = self.index.passage_count
        if count == 0:
            return Retrieval([])
        depth = min(self.depth, count)
        terms = question.weighted_terms
        self.weights.prefetch(terms)
        dense_order = [key for key, _ in self.index.dense_search(query_vector, depth)]
        bm25_top, bm25_more = self.index.bm25_search(terms, depth, also=dense_order)
        bm25_of = {**bm25_more, **dict(bm25_top)}
        bm25_order = [key for key, _ in bm25_top]

        rows = self.index.prefetch(list(dict.fromkeys(dense_order + bm25_order)))
        if len(rows) < len(set(dense_order) | set(bm25_order)):
            present = set(rows)
            dense_order = [r for r in dense_order if r in present]
            bm25_order = [r for r in bm25_order if r in present]
        passage_dense = self.index.passage_vectors(rows) @ query_vector
        sentence_dense = self._closest_sentences(rows, query_vector, passage_dense)
        mixed = (1 - SENTENCE_WEIGHT) * passage_dense + SENTENCE_WEIGHT * sentence_dense
        dense_of = dict(zip(rows, map(float, mixed)))
        passage_of = dict(zip(rows, map(float, passage_dense)))
        sentence_of = dict(zip(rows, map(float, sentence_dense)))
        evidence = self.coverage(question, bm25_order[0]) if bm25_order else 0.0
        weight = lexical_weight(evidence)
        fused = self._fuse(rows, dense_of, bm25_of, dense_order, bm25_order, weight)
        ranked = sorted(rows, key=lambda r: fused[r], reverse=True)
        dense_rank = {r: i for i, r in enumerate(dense_order)}
        bm25_rank = {r: i for i, r in enumerate(bm25_order)}
        candidates = []
        kept: list[_Shingled] = []
        for row in ranked:
            text = _shingled(normalise(self.index.passage(row).text))
            if any(_near_duplicate(text, other) for other in kept):
                continue
            kept.append(text)
            candidates.append(Candidate(
                row, passage_of[row], bm25_of.get(row, 0.0), fused[row], self.coverage(question, row),
                sentence_of[row], dense_rank.get(row, -1), bm25_rank.get(row, -1),
            ))
            if len(candidates) >= limit:
                break
        top_dense = [passage_of[r] for r in dense_order[:2]] + [0.0, 0.0]
        top_bm25 = [bm25_of[r] for r in bm25_order[:2]] + [0.0, 0.0]
        return Retrieval(candidates, weight, evidence, top_dense[0], top_dense[1], top_bm25[0], top_bm25[1])

    def _closest_sentences(self, rows: list[int], query_vector: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        """Each row's best sentence similarity (its passage's own where it has no sentences)."""
        best = np.asarray(fallback, dtype=np.float32).copy()
        blocks = [self.index.sentence_vectors_of(r) for r in rows]
        counts = np.array([len(b) for b in blocks], dtype=np.int64)
        if not counts.sum():
            return best
        scores = np.concatenate([b for b in blocks if len(b)]) @ query_vector
        has = counts > 0
        offsets = np.concatenate([[0], np.cumsum(counts[has])[:-1]])
        best[has] = np.maximum.reduceat(scores, offsets)
        return best

    def _fuse(self, rows, dense_of, bm25_of, dense_order, bm25_order, weight) -> dict[int, float]:
        if self.fusion == "rrf":
            dense_rank = {r: i for i, r in enumerate(dense_order)}
            bm25_rank = {r: i for i, r in enumerate(bm25_order)}
            return {
                r: (1 / (RRF_K + dense_rank[r] + 1) if r in dense_rank else 0.0)
                + (1 / (RRF_K + bm25_rank[r] + 1) if r in bm25_rank else 0.0)
                for r in rows
            }
        dense_values = np.array([dense_of[r] for r in rows])
        bm25_values = np.array([bm25_of.get(r, 0.0) for r in rows])
        return dict(zip(rows, (1 - weight) * _minmax(dense_values) + weight * _minmax(bm25_values)))


@functools.lru_cache(maxsize=65_536)
def word_tokens(word: str) -> tuple[str, ...]:
    """The index tokens of a dictionary word (jieba is slow; the same words come back)."""
    return tuple(lexical.tokens(word))


def character_pairs(word: str) -> list[str]:
    """The character pairs the index holds of a Chinese word (none for other words)."""
    if not CJK_WORD.fullmatch(word):
        return []
    return [word[i : i + 2] for i in range(len(word) - 1)]


def lexical_weight(evidence: float) -> float:
    """BM25's share of the fusion: full when its best passage covers half of the question.

    A ranking with no evidence (an English question whose words match nothing in Chinese
    articles, or only a number) must not weigh as much as the dense ranking: min-max
    normalisation would otherwise blow a stray match up to the top score.
    """
    return LEXICAL_WEIGHT * min(1.0, evidence / FULL_EVIDENCE)


def _minmax(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        return np.ones_like(values) if high > 0 else np.zeros_like(values)
    return (values - low) / (high - low)


@dataclass(frozen=True)
class _Shingled:
    text: str
    pairs: frozenset[str]  # its character pairs


def _shingled(text: str) -> _Shingled:
    return _Shingled(text, frozenset(text[i : i + 2] for i in range(len(text) - 1)))


def _near_duplicate(a: _Shingled, b: _Shingled, threshold: float = 0.8) -> bool:
    """The same text twice (another file, an overlapping paragraph) is one hit."""
    if a.text == b.text or (len(a.text) > 20 and (a.text in b.text or b.text in a.text)):
        return True
    if not a.pairs or not b.pairs:
        return False
    return len(a.pairs & b.pairs) / min(len(a.pairs), len(b.pairs)) >= threshold
