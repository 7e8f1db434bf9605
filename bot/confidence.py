"""How likely the first excerpt answers the question: a learned, calibrated probability.

A logistic regression over what the pipeline already knows about a question (how well the
best passage and the excerpt cover its terms, how far ahead the best passage is in each
ranking, whether the excerpt holds the kind of thing asked for, the question's script and
length). It is trained by ``python bench/train_confidence.py`` on the public sets in
``../shared/bench`` with the refusal protocol, and its parameters live in
``bot/models/confidence.json`` with the figures it was checked against.

The answer is refused ("not found") below ``MIN_CONFIDENCE``; its default is the cut that kept
0.95 of answerable questions answered on data the weights were not fitted on.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np

from embeddings import lexical
from embeddings.text import CJK_CHAR, fold

from .excerpt import TYPE_EVIDENCE
from .linear_model import LinearModel, ModelFileError, sigmoid
from .question import CHINESE_FUNCTION, ENGLISH_STOP, INTERROGATIVES, Question, asked_about_words
from .retrieval import Retrieval, TermWeights

MODEL_PATH = Path(__file__).parent / "models" / "confidence.json"


RETRAIN = "python bench/train_confidence.py"
# each kind of mixed question's Platt scaling of the model's logit (settings of the model file)
MIXED_CALIBRATION = {"english": ("mixed_slope", "mixed_offset"), "chinese": ("mixed_zh_slope", "mixed_zh_offset")}
ConfidenceModelError = ModelFileError


@dataclass(frozen=True)
class Evidence:
    """What the confidence model is told about one answered question."""

    values: dict[str, float] = field(default_factory=dict)
    # "english": an English question writing some words in Chinese; "chinese": a Chinese one
    # writing a word in English; either is calibrated apart (``ConfidenceModel.probability``)
    mixed: str = ""

    def vector(self, names: list[str]) -> np.ndarray:
        return np.array([self.values.get(name, 0.0) for name in names], dtype=np.float64)


def evidence(
    question: Question,
    retrieval: Retrieval,
    passage_text: str,
    excerpt_text: str,
    excerpt_dense: float,
    answer_probability: float,
    weights: TermWeights,
    passage_terms: set[str],
    sentence_terms: list[set[str]],
    neighbour_terms: list[set[str]],
    corpus_is_cjk: bool,
    aligned: dict[str, float],
    reading: dict[str, float] | None = None,
) -> Evidence:
    """Features of the question, its best passage and its first excerpt (all in [0, ~1] but the
    reader's logits: ``aligned`` from ``bot.alignment``, ``reading`` from ``bot.reader``)."""
    candidates = retrieval.candidates
    best = candidates[0]
    runner_up = candidates[1] if len(candidates) > 1 else None
    terms = question.weighted_terms
    idf = {t: w * weights.idf(t) for t, w in terms.items()}
    total = sum(idf.values()) or 1.0
    excerpt_terms = lexical.token_set(excerpt_text)
    # the rarest terms the corpus knows at all: a passage without them is about something else
    ranked_terms = sorted((t for t in idf if weights.document_frequency(t) > 0), key=idf.get, reverse=True)
    rarest = ranked_terms[:3]
    unknown = sum(v for t, v in idf.items() if weights.document_frequency(t) == 0) / total
    cross = float((question.script == "cjk") != corpus_is_cjk)
    type_asked = bool(question.answer_types)
    type_found = any(TYPE_EVIDENCE[kind].search(excerpt_text) for kind in question.answer_types)
    latin_words = [t for t in question.terms if t.isascii() and t.isalpha()]
    numbers = [t for t in question.terms if t[:1].isdigit()]
    names = [t for t in latin_words if t in passage_terms or weights.document_frequency(t) > 0]
    values = {
        "dense": best.dense,
        "sentence_dense": best.sentence_dense,
        "numbers_missing": (sum(t not in passage_terms for t in numbers) / len(numbers)) if numbers else 0.0,
        "latin_known_present": (sum(t in passage_terms for t in names) / len(names)) if names else 0.0,
        "dense_margin": retrieval.dense_best - retrieval.dense_second,
        "dense_behind_best": retrieval.dense_best - best.dense,
        "dense_next": best.dense - (runner_up.dense if runner_up else 0.0),
        "excerpt_dense": excerpt_dense,
        "answer_probability": answer_probability,
        "coverage": best.coverage,
        "coverage_margin": best.coverage - (runner_up.coverage if runner_up else 0.0),
        "excerpt_coverage": weights.coverage(terms, excerpt_terms),
        "sentence_coverage": max((weights.coverage(terms, tokens) for tokens in sentence_terms), default=0.0),
        "longest_match": _longest_match(question, passage_text),
        **_missing_words(question, passage_text, excerpt_text, weights, corpus_is_cjk),
        "specific_coverage": _specific_coverage(idf, passage_terms, neighbour_terms),
        "bigram_coverage": _bigram_coverage(question, passage_text),
        "rarest_present": float(bool(rarest) and rarest[0] in passage_terms),
        "rare_share_present": (sum(t in passage_terms for t in rarest) / len(rarest)) if rarest else 0.0,
        "unknown_terms": unknown,
        "bm25_ratio": (retrieval.bm25_second / retrieval.bm25_best) if retrieval.bm25_best > 0 else 1.0,
        "best_is_bm25_top": float(best.bm25_rank == 0),
        "best_is_dense_top": float(best.dense_rank == 0),
        "lexical_evidence": retrieval.lexical_evidence,
        "fused_margin": float(best.fused - (runner_up.fused if runner_up else 0.0)),
        "type_asked": float(type_asked),
        "type_missing": float(type_asked and not type_found),
        "terms": math.log1p(len(terms)),
        "chars": math.log1p(len(question.text)),
        "cross_script": cross,
        **aligned,
        **(reading or {}),
        "translated_share": (
            len(question.translated_words & set(latin_words)) / len(latin_words) if latin_words else 0.0
        ),
    }
    # A question across scripts is weighed with the same weights and an offset of its own
    # (cross_script). Copies of nine features weighed apart for it rested on a few hundred English
    # questions and took large, opposite weights on measures that move together; without them,
    # English questions are refused more at the same answered share (README, "One set of weights
    # for both scripts").
    return Evidence(values, mixed=mixed_kind(question))


def mixed_kind(question: Question) -> str:
    return "english" if question.mixed_english else "chinese" if question.mixed_chinese else ""


def _specific_coverage(idf: dict[str, float], present: set[str], neighbours: list[set[str]]) -> float:
    """Coverage with each term weighted also by how few of the closest passages hold it.

    Terms that every close passage holds name the topic (the article); the ones that tell the
    answer's passage apart are held by few. When the best passage lacks those, the passage
    that held them is likely not in the corpus: a sibling of it was found instead.
    """
    count = len(neighbours) + 1
    weights = {}
    for term, value in idf.items():
        found = (term in present) + sum(term in other for other in neighbours)
        weights[term] = value * math.log(1 + (count - found + 0.5) / (found + 0.5))
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total > 0 else 0.0


def _content(question: Question) -> str:
    """The question's own words in characters, question words and punctuation dropped."""
    text = question.simplified
    for word in INTERROGATIVES:
        text = text.replace(word, " ")
    return re.sub(r"[\W_]+", " ", text).strip()


def _longest_match(question: Question, passage: str) -> float:
    """The longest run of the question's characters found verbatim in the passage, as a share
    of the question: reading-comprehension questions copy a phrase of the sentence they ask
    about, and a passage that only shares the topic holds short runs."""
    content = _content(question).replace(" ", "")
    if not content or not CJK_CHAR.search(content):
        return 0.0
    matcher = SequenceMatcher(None, content, passage, autojunk=False)
    match = matcher.find_longest_match(0, len(content), 0, len(passage))
    return min(1.0, match.size / min(len(content), 12))


def _missing_words(
    question: Question, passage: str, excerpt: str, weights: TermWeights, corpus_is_cjk: bool,
) -> dict[str, float]:
    """The question's own words that the passage or the excerpt never writes, idf-weighted, and
    whether the rarest one is among them.

    A question names the thing it asks about (三花酒, 动土仪式); a passage from the same article
    that never writes that name answers something else, however many topic pairs it shares
    (character pairs blur this: 三花酒 shares no pair with the passage, but 饮料 and 原料 are
    there). Chinese words are jieba's (two characters or more); an English word counts as
    written when the word itself is, or one of its dictionary translations ("bread": 面包; for a
    word that was not translated, any sense of any base form: "fishing" is written as 渔).
    """
    words = _word_choices(question, corpus_is_cjk)
    if not words:
        return {"missing_words": 0.0, "rarest_word_missing": 0.0, "excerpt_missing_words": 0.0}
    idf = [max(weights.idf(t) for t in choices) for choices in words]
    total = sum(idf) or 1.0
    passage, excerpt = fold(passage), fold(excerpt)
    in_passage = [any(t in passage for t in choices) for choices in words]
    in_excerpt = [any(t in excerpt for t in choices) for choices in words]
    rarest = int(np.argmax(idf))
    return {
        "missing_words": sum(v for v, found in zip(idf, in_passage) if not found) / total,
        "rarest_word_missing": float(not in_passage[rarest]),
        "excerpt_missing_words": sum(v for v, found in zip(idf, in_excerpt) if not found) / total,
    }


def _word_choices(question: Question, corpus_is_cjk: bool) -> list[tuple[str, ...]]:
    """The question's words, each with the spellings that count as writing it (English words in
    Chinese articles: their dictionary senses too)."""
    choices = [(w,) for w in _chinese_words(question.simplified)]
    translated = set()
    for english, chinese in question.translations.items():
        choices.append((fold(english), *chinese))
        translated.update(fold(english).split())
    rest = [w for w in question.latin_words if len(w) >= 3 and w not in translated and w not in ENGLISH_STOP]
    if rest and corpus_is_cjk:  # the dictionary was loaded to translate the question
        from .translation import dictionary

        return choices + [(w, *dictionary().all_senses(w)) for w in rest]
    return choices + [(w,) for w in rest]


def _chinese_words(simplified: str) -> list[str]:
    return sorted({
        w for w in asked_about_words(simplified)
        if len(w) >= 2 and CJK_CHAR.search(w) and not set(w) <= CHINESE_FUNCTION
    })


def _bigram_coverage(question: Question, passage: str) -> float:
    """Share of the question's character pairs (within words) that the passage holds."""
    pairs = {w[i : i + 2] for w in _content(question).split() for i in range(len(w) - 1)}
    pairs = {p for p in pairs if CJK_CHAR.search(p)}
    return sum(p in passage for p in pairs) / len(pairs) if pairs else 0.0


def preferred(confidences: list[float], margin: float) -> int:
    """The most trusted hit, when it beats the first by more than ``margin``; else the first."""
    if not confidences:
        return 0
    best = max(range(len(confidences)), key=confidences.__getitem__)
    return best if confidences[best] > confidences[0] + margin else 0


class ConfidenceModel(LinearModel):
    """The confidence model's file: a ``LinearModel`` with its default cut."""

    @property
    def min_confidence(self) -> float:  # the default operating point (see the module docstring)
        return self.settings["min_confidence"]

    @property
    def prefer_margin(self) -> float:
        """How much more another hit's confidence must be to put it first (1 or more: never);
        chosen with the cut by ``bench/train_confidence.py``."""
        return self.settings["prefer_margin"]

    def preferred(self, confidences: list[float]) -> int:
        """Which of the hits (their confidences, the first hit's first) should come first."""
        return preferred(confidences, self.prefer_margin)

    def probability(self, evidence: Evidence | dict[str, float]) -> float:
        """A mixed question's logit is recalibrated: fitted on English and Chinese questions, the
        model reads an English question's Chinese words as rare, strong evidence, and a Chinese
        question's English word as one the passage never writes."""
        if not isinstance(evidence, Evidence):
            return super().probability(evidence)
        logit = self.logit(evidence.values)
        if evidence.mixed:
            slope, offset = (self.settings[name] for name in MIXED_CALIBRATION[evidence.mixed])
            logit = slope * logit + offset
        return sigmoid(logit)

    def save(self, path: Path = MODEL_PATH) -> None:
        super().save(path)

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "ConfidenceModel":
        settings = ("min_confidence", "prefer_margin", *(n for names in MIXED_CALIBRATION.values() for n in names))
        return super().load(path, retrain=RETRAIN, settings=settings)
