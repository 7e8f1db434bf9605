"""The answer object: built once in ``answering``, rendered by every front-end.

Every piece of text here is a quotation from the corpus (or the user's own question); the
JSON form is a stable interface that scripts rely on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .confidence import Evidence


NOT_FOUND = (
    "文章中没有找到能回答这个问题的句子。"
    "The articles do not seem to answer this question, and the bot only quotes what they say."
)
CLOSEST_ARTICLES = "这些文章最接近，可以换个问法问问它们 / The closest articles, worth asking about:"
# an answer less likely than this to hold the reply gets a discreet note under it
LOW_CONFIDENCE = 0.5


def closest_articles(answer: "Answer", bullet: str, escape: Callable[[str], str] = str) -> list[str]:
    """The lines that name the closest articles under a "not found" or a problem (none when
    there are none); every front-end draws them the same way."""
    if not answer.suggestions:
        return []
    return [CLOSEST_ARTICLES, *(f"{bullet}{escape(title)}" for title in answer.suggestions)]


def confidence_note(answer: "Answer") -> str:
    """The discreet line under a shown answer whose confidence is low but above the cut."""
    if answer.not_found or answer.confidence is None or answer.confidence >= LOW_CONFIDENCE:
        return ""
    return f"可信度较低 / low confidence ({answer.confidence:.0%}): check the quoted paragraph."


def follow_up_line(answer: "Answer") -> str:
    """Said above an answer that was read in the light of the previous question."""
    return f"接上一问 / following up on: {answer.follow_up}" if answer.follow_up else ""


def citation(article: str, section: str, paragraph: int, part: int = 0) -> str:
    """``title · section · 第N段``: how every front-end cites a paragraph (and which part of it,
    for a paragraph too long to be one passage)."""
    where = f"第{paragraph}段" + (f"（第{part}部分）" if part else "")
    return " · ".join(piece for piece in [article, section, where] if piece)


@dataclass
class Hit:
    passage_id: str
    article_id: str
    excerpt: str  # a verbatim slice of ``passage``
    excerpt_span: tuple[int, int]  # where the excerpt stands in ``passage``
    highlights: list[tuple[int, int]]  # matched question terms, relative to ``excerpt``
    passage: str
    article: str
    subtitle: str
    section: str
    paragraph: int
    source: str
    byline: str = ""
    date: str = ""
    url: str = ""
    score: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    answer_span: tuple[int, int] | None = None  # the likely answer, relative to ``excerpt``
    part: int = 0  # which part of a long paragraph (0: the whole paragraph)

    @property
    def cut_before(self) -> bool:
        return self.excerpt_span[0] > 0

    @property
    def cut_after(self) -> bool:
        return self.excerpt_span[1] < len(self.passage)

    def marks(self) -> list[tuple[int, int, str]]:
        """Non-overlapping ``(start, end, kind)`` over the excerpt, kind ``term`` or ``answer``;
        the answer wins where a question term overlaps it."""
        found = []
        answer = self.answer_span
        for start, end in self.highlights:
            pieces = [(start, end)] if answer is None else [(start, min(end, answer[0])), (max(start, answer[1]), end)]
            found += [(a, b, "term") for a, b in pieces if a < b]
        if answer is not None:
            found.append((answer[0], answer[1], "answer"))
        return sorted(found)

    def marked(
        self, term: tuple[str, str], answer: tuple[str, str], escape: Callable[[str], str] = str,
    ) -> str:
        """The excerpt with question terms and the answer wrapped in their markers, and ``…``
        where it was cut."""
        out, at = [], 0
        for start, end, kind in self.marks():
            opening, closing = term if kind == "term" else answer
            out += [escape(self.excerpt[at:start]), opening, escape(self.excerpt[start:end]), closing]
            at = end
        out.append(escape(self.excerpt[at:]))
        return ("…" if self.cut_before else "") + "".join(out) + ("…" if self.cut_after else "")

    def citation(self) -> str:
        return citation(self.article, self.section, self.paragraph, self.part)

    def to_json(self) -> dict:
        return {
            "excerpt": self.excerpt,
            "passage": self.passage,
            "article": self.article,
            "section": self.section,
            "paragraph": self.paragraph,
            "part": self.part,
            "source": self.source,
            "score": round(self.score, 6),
            "highlights": [list(span) for span in self.highlights],
            "answer_span": list(self.answer_span) if self.answer_span else None,
            "id": self.passage_id,
            "article_id": self.article_id,
            "subtitle": self.subtitle,
            "byline": self.byline,
            "date": self.date,
            "url": self.url,
            "excerpt_span": list(self.excerpt_span),
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
        }


@dataclass
class Answer:
    question: str
    hits: list[Hit]
    not_found: bool
    elapsed_ms: float
    suggestions: list[str] = field(default_factory=list)  # closest article titles when not found
    notice: str = ""  # e.g. "the question was shortened"
    problem: str = ""  # set when the question itself could not be asked (empty, no words)
    # estimated probability that the first excerpt answers the question (None: not estimated)
    confidence: float | None = None
    evidence: Evidence | None = field(default=None, repr=False)  # what the confidence came from
    # training data only (an answerer without a confidence model): the next hits' evidence, each
    # as if it had come first (bot.answering's second opinion)
    alternatives: list[Evidence] = field(default_factory=list, repr=False)
    follow_up: str = ""  # the article title this answer followed up on (a question leaning on the last)
    context_words: list[str] = field(default_factory=list)  # the previous turn's words it was asked with


    def to_json(self) -> dict:
        data = {
            "question": self.question,
            "not_found": self.not_found,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "elapsed_ms": round(self.elapsed_ms, 1),
            "hits": [hit.to_json() for hit in self.hits],
        }
        data["follow_up"] = {"article": self.follow_up, "context": self.context_words} if self.follow_up else None
        if self.suggestions:
            data["suggestions"] = self.suggestions
        if self.notice:
            data["notice"] = self.notice
        if self.problem:
            data["problem"] = self.problem
        return data
