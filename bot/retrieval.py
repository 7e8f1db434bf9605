"""Hybrid retrieval: BM25 over Chinese-aware tokens beside dense vectors (FAISS), fused.

BM25 is precise when the question shares words with the article; the dense side finds the
passage when it does not (paraphrases, English questions about Chinese text). Two fusions are
available and measured by ``python -m bot eval``: reciprocal-rank fusion and a weighted sum of
min-max normalised scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from embeddings import lexical
from embeddings.index_store import KnowledgeIndex
from embeddings.text import normalise

from .question import Question

RRF_K = 60
FUSIONS = ("rrf", "weighted")


@dataclass
class Candidate:
    row: int
    dense: float
    bm25: float
    fused: float
    coverage: float = 0.0  # idf-weighted share of the question's terms found in the passage


class TermWeights:
    """Inverse document frequencies from the BM25 index, for overlap and highlighting."""

    def __init__(self, index: KnowledgeIndex):
        indptr = np.asarray(index.bm25.scores["indptr"])
        frequencies = np.diff(indptr)
        total = max(1, len(index.passages))
        self._idf = {
            token: math.log(1 + (total - frequencies[i] + 0.5) / (frequencies[i] + 0.5))
            for token, i in index.bm25.vocab_dict.items()
            if i < len(frequencies)
        }
        self._unseen = math.log(1 + (total + 0.5) / 0.5)

    def idf(self, token: str) -> float:
        return self._idf.get(token, self._unseen)


class HybridRetriever:
    def __init__(self, index: KnowledgeIndex, fusion: str = "weighted", depth: int = 50):
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
            passage = self.index.passages[row]
            self._passage_terms[row] = set(lexical.tokens(passage.title + " " + passage.text))
        return self._passage_terms[row]

    def sentence_terms(self, row: int) -> list[set[str]]:
        if row not in self._sentence_terms:
            text = self.index.passages[row].text
            spans = self.index.passages[row].sentences or [(0, len(text))]
            self._sentence_terms[row] = [set(lexical.tokens(text[a:b])) for a, b in spans]
        return self._sentence_terms[row]

    def coverage(self, question: Question, row: int) -> float:
        terms = question.terms
        if not terms:
            return 0.0
        present = self.passage_terms(row)
        total = sum(self.weights.idf(t) for t in terms)
        return sum(self.weights.idf(t) for t in terms if t in present) / total

    def search(self, question: Question, query_vector: np.ndarray, limit: int = 10) -> list[Candidate]:
        count = len(self.index.passages)
        if count == 0:
            return []
        depth = min(self.depth, count)
        dense_scores, dense_rows = self.index.dense.search(query_vector.reshape(1, -1), depth)
        dense = {int(r): float(s) for r, s in zip(dense_rows[0], dense_scores[0]) if r >= 0}
        bm25_all = self.index.bm25_scores(question.terms)
        bm25_rows = [int(r) for r in np.argsort(-bm25_all)[:depth] if bm25_all[r] > 0]

        rows = list(dict.fromkeys(list(dense) + bm25_rows))
        all_dense = self.index.vectors[rows] @ query_vector
        dense_of = dict(zip(rows, map(float, all_dense)))
        fused = self._fuse(rows, dense_of, bm25_all, list(dense), bm25_rows)
        ranked = sorted(rows, key=lambda r: fused[r], reverse=True)
        candidates = []
        kept_texts: list[str] = []
        for row in ranked:
            text = normalise(self.index.passages[row].text)
            if any(_near_duplicate(text, other) for other in kept_texts):
                continue
            kept_texts.append(text)
            candidates.append(
                Candidate(row, dense_of[row], float(bm25_all[row]), fused[row], self.coverage(question, row))
            )
            if len(candidates) >= limit:
                break
        return candidates

    def _fuse(self, rows, dense_of, bm25_all, dense_order, bm25_order) -> dict[int, float]:
        if self.fusion == "rrf":
            dense_rank = {r: i for i, r in enumerate(dense_order)}
            bm25_rank = {r: i for i, r in enumerate(bm25_order)}
            return {
                r: (1 / (RRF_K + dense_rank[r] + 1) if r in dense_rank else 0.0)
                + (1 / (RRF_K + bm25_rank[r] + 1) if r in bm25_rank else 0.0)
                for r in rows
            }
        dense_values = np.array([dense_of[r] for r in rows])
        bm25_values = np.array([bm25_all[r] for r in rows])
        return dict(zip(rows, 0.5 * _minmax(dense_values) + 0.5 * _minmax(bm25_values)))


def _minmax(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        return np.ones_like(values) if high > 0 else np.zeros_like(values)
    return (values - low) / (high - low)


def _near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    """The same text twice (another file, an overlapping paragraph) is one hit."""
    if a == b or (len(a) > 20 and (a in b or b in a)):
        return True
    grams_a = {a[i : i + 2] for i in range(len(a) - 1)}
    grams_b = {b[i : i + 2] for i in range(len(b) - 1)}
    if not grams_a or not grams_b:
        return False
    smaller = min(len(grams_a), len(grams_b))
    return len(grams_a & grams_b) / smaller >= threshold
