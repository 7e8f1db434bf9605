"""From a question to an ``Answer``: retrieve, pick excerpts, cite, or say "not found"."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from embeddings.config import IndexSettings
from embeddings.documents import Passage
from embeddings.encoder import Encoder, query_encoder
from embeddings.index_backend import IndexBackend, index_version, open_index
from embeddings.index_store import IndexUnavailable
from embeddings.text import CJK_CHAR

from .alignment import alignment
from .answer import Answer, Hit
from .answer_span import AnswerSpanModel
from .entity_tags import excerpt_tags
from .confidence import ConfidenceModel, Evidence, evidence
from .config import AnswerSettings
from .excerpt import Excerpt, ExcerptRanker, ranked_excerpts
from .highlight import highlight_spans, question_words
from .question import Question, parse_question, with_context
from .reader import Reader, shipped_reader
from .reader_choice import WINDOWS, choose_windows, mean_logit
from .retrieval import Candidate, HybridRetriever, Retrieval

log = logging.getLogger(__name__)

MAX_HITS = 10
UNREACHABLE = "The articles cannot be searched right now (the index does not answer): try again in a minute."
SECOND_OPINIONS = 3  # the first hits whose confidence is compared (``_second_opinion``)
EXCERPT_POOL = 5  # candidates fetched at least: "not found" suggests titles, confidence compares them
NEIGHBOURS = 5  # the best passage and the next ones, whose shared terms name the topic
# The confidence was fitted on Chinese and English questions only: in another script it cannot
# tell a right quotation from a wrong one (Russian "how do I bake bread?" scored 0.95), so the
# bot does not quote; it names the articles closest in meaning (the encoder is multilingual).
OTHER_SCRIPT = (
    "机器人只能核对中文或英文问题的引文，请用中文或英文提问。The bot can check its quotations only for "
    "questions in Chinese or English: please ask in one of them."
)


class Answerer:
    """Holds the encoder and one loaded index; ``reload`` swaps in a rebuilt index."""

    def __init__(
        self, index: IndexBackend, encoder: Encoder, settings: AnswerSettings,
        confidence: ConfidenceModel | None | bool = True, index_settings: IndexSettings | None = None,
    ):
        """``confidence=None`` answers everything (to collect training data for the model)."""
        self.encoder = encoder
        self.settings = settings
        self._refused_version: str | None = None
        self._examples: tuple[str | None, list[tuple[str, str]]] = (None, [])
        self.confidence = ConfidenceModel.load() if confidence is True else (confidence or None)
        self.ranker = ExcerptRanker.load()
        self.answer_spans = AnswerSpanModel.load()
        self.reader = shipped_reader()
        self.choice_logit = mean_logit  # which logit helps choose a window (training sets the honest one)
        if not Reader.reads_with(encoder):
            log.warning("EMBEDDING_MODEL=%s: the reader was fitted on the bundled encoder and is not used, so "
                        "the confidence is less sure of what it quotes", getattr(encoder, "model_id", "?"))
        self.min_confidence = 0.0
        if self.confidence is not None:
            chosen = settings.min_confidence
            self.min_confidence = self.confidence.min_confidence if chosen is None else chosen
        self.index_settings = index_settings or _settings_of(index)
        self._use(index)

    @classmethod
    def load(cls, index_dir: Path, settings: AnswerSettings | None = None, warm: bool = True) -> "Answerer":
        """``warm=False`` for a one-shot ``ask``: nobody waits on a second question."""
        index_settings = replace(IndexSettings.from_env(), index_dir=Path(index_dir))
        index = open_index(index_settings, expected_model=index_settings.model)
        answerer = cls(index, query_encoder(index_settings), settings or AnswerSettings.from_env(),
                       index_settings=index_settings)
        if warm:
            answerer.warm_up()
        return answerer

    def _use(self, index: IndexBackend) -> None:
        retriever = HybridRetriever(index, fusion=self.settings.fusion)
        sample = "".join(p.text for p in index.sample_passages(50, seed=0))
        corpus_is_cjk = bool(sample) and len(CJK_CHAR.findall(sample)) / len(sample) > 0.3
        # one swap of three references: a question in flight sees the old or the new index
        self.index, self.retriever, self.corpus_is_cjk = index, retriever, corpus_is_cjk

    def warm_up(self) -> None:
        """Load jieba's dictionary and run the encoder once, so the first user does not wait."""
        self.answer("盘锦 warm-up")

    def reload(self) -> IndexBackend:
        """Load the current build; on any problem the old index keeps serving (and it raises)."""
        index = open_index(self.index_settings, expected_model=self.encoder.model_id)
        self._use(index)
        return index

    @property
    def index_dir(self) -> Path:
        return self.index_settings.index_dir

    def reload_if_changed(self) -> IndexBackend | None:
        """Take up a build that ``python -m embeddings.build`` made since: FAISS's ``current``
        pointer moved, or the Milvus collection's build id changed. One that fails to load is
        logged once and skipped, and the old index keeps serving."""
        try:
            version = index_version(self.index_settings)
        except IndexUnavailable as problem:
            log.warning("cannot check the index for a new build: %s", problem)
            return None
        if version is None or version == self.index.version or version == self._refused_version:
            return None
        try:
            index = self.reload()
        except IndexUnavailable as problem:
            self._refused_version = version
            log.warning("the new build %s cannot be served, keeping the old index: %s", version, problem)
            return None
        log.info("now serving build %s: %d passages", index.manifest.build_id, index.manifest.passages)
        return index

    def examples(self, count: int = 3) -> list[tuple[str, str]]:
        """Example questions from the serving corpus that this bot answers from their article
        (made once per index: the checks cost an answer each)."""
        from .examples import example_questions

        if self._examples[0] != self.index.version:
            def answered_from(question: str) -> str | None:
                answer = self.answer(question)
                return answer.hits[0].article_id if answer.hits else None

            self._examples = (self.index.version, example_questions(
                self.index.sample_passages(60), count, answered_from=answered_from))
        return self._examples[1]

    def passage(self, passage_id: str) -> Passage | None:
        return self.index.passage_by_id(passage_id)

    def article(self, article_id: str) -> list[Passage]:
        return self.index.article_passages(article_id)

    def answer(self, raw_question: str, top_k: int | None = None, context: list[str] | None = None) -> Answer:
        """``context``: key words of the conversation's previous turn, for a follow-up question."""
        started = time.perf_counter()
        top_k = max(1, min(top_k or self.settings.top_k, MAX_HITS))
        question = parse_question(raw_question)
        if context and question.text:
            with_context(question, context)

        def finish(**fields) -> Answer:
            elapsed = (time.perf_counter() - started) * 1000
            notice = "The question was shortened to its first 500 characters." if question.truncated else ""
            return Answer(question=question.text, elapsed_ms=elapsed, notice=notice, **fields)

        if question.is_empty:
            return finish(hits=[], not_found=True, problem="The question is empty: type a question about the articles.")
        if not question.has_words:
            return finish(
                hits=[], not_found=True,
                problem="The question has no words (only emoji, symbols or punctuation): ask it in words.",
            )
        try:
            return self._answer(question, top_k, finish)
        except IndexUnavailable as problem:  # an index server gone away: say so, keep serving
            log.warning("could not search the index: %s", problem)
            return finish(hits=[], not_found=True, problem=UNREACHABLE)

    def _answer(self, question: Question, top_k: int, finish) -> Answer:
        self.retriever.translate(question, self.corpus_is_cjk)
        if (not question.weighted_terms or question.names_nothing) and question.script != "other":
            return finish(
                hits=[], not_found=True,
                problem="The question has only question words (what, 什么…): say what it is about.",
            )
        if question.context_words:  # one pass for the question in context and for the question alone
            query_vector, own_vector = self.encoder.encode_queries([question.encoded_text, question.simplified])
            question_states = None
        else:
            query_vector, question_states = self.encoder.encode_question(question.simplified)
            own_vector = query_vector
        retrieval = self.retriever.search(question, query_vector, limit=max(top_k, EXCERPT_POOL))
        candidates = retrieval.candidates
        titles = list(dict.fromkeys(self.index.passage(c.row).title for c in candidates))[:3]
        if not candidates:
            return finish(hits=[], not_found=True, suggestions=titles)
        if question.script == "other":
            return finish(hits=[], not_found=True, suggestions=titles, problem=OTHER_SCRIPT)
        # the context finds the passage; the sentence shown must answer the question itself
        own = replace(question, context={}, context_words=[]) if question.context_words else question
        # excerpts only for what is shown, and for the hits whose confidence may put them first;
        # those hits are read once, together, and the reader has a say in which window they show
        hits, readings = self._hits(candidates[: max(top_k, SECOND_OPINIONS)], question, own, own_vector)
        if question_states is None:
            question_states = self.encoder.question_tokens(question.simplified)
        judge = Judge(question, retrieval, hits, question_states, readings)
        found = self.evidence(judge, 0)
        if self.confidence is None:  # collecting training data: every hit's evidence as if it came first
            others = self._others_as_first(judge)
            return finish(hits=hits[:top_k], not_found=False, evidence=found, alternatives=others)
        confidence = self.confidence.probability(found)
        chosen, found, confidence = self._second_opinion(judge, found, confidence)
        if chosen:  # the hit the confidence trusts most comes first; the others keep their order
            hits = [hits[chosen]] + hits[:chosen] + hits[chosen + 1 :]
        hits = hits[:top_k]
        if confidence < self.min_confidence:
            return finish(hits=[], not_found=True, suggestions=titles, confidence=confidence, evidence=found)
        return finish(hits=hits, not_found=False, confidence=confidence, evidence=found)

    def _second_opinion(self, judge: "Judge", found: Evidence, confidence: float) -> tuple[int, Evidence, float]:
        """The next hits' confidence, each judged as if it came first; the one trusted most
        (by the model file's margin over the first) leads. A wrong first passage is often the
        sibling of the right one, and the evidence tells them apart better than the fused rank."""
        if confidence + self.confidence.prefer_margin >= 1.0:  # no other hit could lead
            return 0, found, confidence
        judged = [(found, confidence)] + [
            (other, self.confidence.probability(other))
            for other in self._others_as_first(judge)
        ]
        chosen = self.confidence.preferred([p for _, p in judged])
        return chosen, *judged[chosen]

    def _others_as_first(self, judge: "Judge") -> list[Evidence]:
        """The evidence of each hit after the first that a second opinion may put first."""
        return [self.evidence(judge, k) for k in range(1, len(judge.hits[:SECOND_OPINIONS]))]

    def evidence(self, judge: "Judge", k: int) -> Evidence:
        """What the confidence model is told about ``hits[k]`` as the answer, as if its passage had
        come first (also the training features): the question's own words against its excerpt's,
        token by token (bot.alignment), the reader's reading of the pair (bot.reader), and the
        retrieval's evidence with that passage on top."""
        question, retrieval, hits = judge.question, judge.retrieval, judge.hits
        first = hits[k]
        if k:
            candidates = retrieval.candidates
            retrieval = replace(retrieval, candidates=[candidates[k]] + candidates[:k] + candidates[k + 1 :])
        aligned = alignment(judge.question_states, self.encoder.passage_tokens(first.excerpt))
        row = retrieval.candidates[0].row
        return evidence(
            question, retrieval, first.passage, first.excerpt, first.scores["excerpt_dense"], first.scores["answer"],
            self.retriever.weights, self.retriever.passage_terms(row), self.retriever.sentence_terms(row),
            [self.retriever.passage_terms(c.row) for c in retrieval.candidates[1:NEIGHBOURS]], self.corpus_is_cjk,
            aligned, judge.readings[k],
        )

    def _hits(
        self, candidates: list[Candidate], asked: Question, question: Question, query_vector: np.ndarray,
    ) -> tuple[list[Hit], list[dict[str, float]]]:
        """The hits, and the reader's reading of the first ``SECOND_OPINIONS`` of them: for those the
        reader reads the ranker's first windows and helps choose (``bot.reader_choice``). ``asked`` is
        the question as the reader reads it (with its conversation), ``question`` the one excerpts answer."""
        rows = [c.row for c in candidates]
        passages = [self.index.passage(r) for r in rows]
        options = ranked_excerpts(
            [(p, self.index.sentence_vectors_of(r), self.retriever.sentence_terms(r)) for p, r in zip(passages, rows)],
            query_vector, question, self.retriever.weights, self.ranker, WINDOWS,
        )
        read = options[:SECOND_OPINIONS]
        texts = [p.text[e.start : e.end] for p, windows in zip(passages, read) for e in windows]
        flat = iter(self.reader.read(self.encoder, asked.simplified, texts))
        chosen = choose_windows(read, [[next(flat) for _ in windows] for windows in read], self.choice_logit)
        excerpts = [excerpt for excerpt, _ in chosen] + [windows[0] for windows in options[SECOND_OPINIONS:]]
        words = question_words(question)
        hits = [self._hit(c, excerpt, question, words) for c, excerpt in zip(candidates, excerpts)]
        return hits, [reading for _, reading in chosen]

    def _hit(self, candidate: Candidate, excerpt: Excerpt, question: Question, words: set[str]) -> Hit:
        passage = self.index.passage(candidate.row)
        text = passage.text[excerpt.start : excerpt.end]
        highlights = highlight_spans(text, words)
        answer_span, answer_probability = self.answer_spans.judge(
            text, question, highlights, excerpt_tags(passage.id, passage.text, excerpt.start, excerpt.end),
        )
        return Hit(
            passage_id=passage.id, article_id=passage.article_id,
            excerpt=text, excerpt_span=(excerpt.start, excerpt.end),
            highlights=highlights,
            answer_span=answer_span,
            passage=passage.text, article=passage.title, subtitle=passage.subtitle,
            section=passage.section, paragraph=passage.ordinal, part=passage.part, source=passage.source,
            byline=passage.byline, date=passage.date, url=passage.url,
            score=candidate.fused,
            scores={
                "fused": candidate.fused, "dense": candidate.dense, "bm25": candidate.bm25,
                "coverage": candidate.coverage, "excerpt": excerpt.score,
                "excerpt_dense": excerpt.dense, "answer": answer_probability,
            },
        )


@dataclass(frozen=True)
class Judge:
    """What judging a question's hits needs, computed once for all of them."""

    question: Question
    retrieval: Retrieval
    hits: list[Hit]
    question_states: object  # the question's TokenStates (bot.alignment)
    readings: list[dict[str, float]]  # the reader's, one per hit it read (bot.reader)


def _settings_of(index: IndexBackend) -> IndexSettings:
    """The settings that reopen an index handed in already loaded (tests, benchmarks)."""
    settings = IndexSettings.from_env()
    if hasattr(index, "settings"):  # a Milvus index knows where it lives
        return index.settings
    return replace(settings, backend="faiss", index_dir=Path(index.path).parent.parent)  # INDEX_DIR/builds/<id>
