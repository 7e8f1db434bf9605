"""Conversations: a question that leans on the previous one is answered in its context.

No generative model here either. The context of a turn is the key words its answer was found
with (the question's words highlighted in the first excerpt, rarest first) and the article it
was answered from. A new question is asked twice, alone and with those words (searched at half
weight and read by the dense encoder before the question), and the answer in context is kept
only on evidence that the question leans on the previous one:

- it refers back: a pronoun or demonstrative (它, 那里, 该, it, there, …) or a leading
  connective (那, 还有, and, also, …) — closed classes of words, not phrasings;
- it drops a modifier the previous question had: 街道 after 建设街道, 村 after 得胜村;
- or, with neither, the question alone is answered poorly and the previous article answers it
  clearly better (its confidence rises by ``CONFIDENCE_GAIN``).

With evidence, the answer in context must still not be clearly worse than the answer alone. A
clear question about something else keeps its own answer and starts a new thread.

State is kept per conversation key (a chat, or a user within a group), for the last
``TURNS_KEPT`` turns, dropped after ``EXPIRES_AFTER`` seconds without a question, at most
``MAX_CONVERSATIONS`` at once (the least recently active go first), and never written to disk.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Callable, Hashable

from embeddings import lexical
from embeddings.text import fold

from embeddings.text import CJK_CHAR

from .answer import Answer
from .highlight import question_words
from .question import CHINESE_FUNCTION, INTERROGATIVES, Question, parse_question

TURNS_KEPT = 3
EXPIRES_AFTER = 30 * 60.0
MAX_CONVERSATIONS = 10_000
CONTEXT_WORDS = 4  # key words carried from one turn to the next
CONFIDENCE_GAIN = 0.15
WORSE_ALLOWED = 0.10

REFERRING_CHINESE = set(
    "它 它们 他 她 他们 她们 那里 这里 那儿 这儿 该 其 此 此处 当地 这个 那个 这些 那些 上述 此次 这次 那次 同期".split()
)
REFERRING_ENGLISH = set("it its they them their there that this those these he she his her".split())
CONNECTIVES_CHINESE = ("那么", "那", "还有", "另外", "此外", "而", "又", "同时")
CONNECTIVES_ENGLISH = ("and", "also", "but", "then", "what about", "how about", "and what")


@dataclass
class Turn:
    words: list[str]  # the key words of the turn, rarest first
    article_id: str
    title: str


@dataclass
class Conversation:
    turns: deque = field(default_factory=lambda: deque(maxlen=TURNS_KEPT))
    updated: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # one question at a time

    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None


class Conversations:
    """Bounded in-memory state: one ``Conversation`` per key."""

    def __init__(self, expires_after: float = EXPIRES_AFTER, capacity: int = MAX_CONVERSATIONS,
                 clock: Callable[[], float] = time.monotonic):
        self.expires_after = expires_after
        self.capacity = capacity
        self.clock = clock
        self._open: OrderedDict[Hashable, Conversation] = OrderedDict()

    def get(self, key: Hashable) -> Conversation:
        now = self.clock()
        conversation = self._open.pop(key, None)
        if conversation is None or now - conversation.updated > self.expires_after:
            conversation = Conversation()
        conversation.updated = now
        self._open[key] = conversation
        while len(self._open) > self.capacity:
            self._open.popitem(last=False)
        return conversation

    def reset(self, key: Hashable) -> None:
        self._open.pop(key, None)

    def __len__(self) -> int:
        return len(self._open)


def refers_back(question: Question, previous: Turn) -> list[str]:
    """The evidence that a question leans on the previous turn (empty: it stands alone)."""
    text = fold(question.simplified).strip()
    reasons = []
    words = [w for w in lexical.segmenter().cut(text) if w.strip()]
    latin = [w for w in words if w.isascii()]
    if REFERRING_CHINESE & set(words) or REFERRING_ENGLISH & set(latin):
        reasons.append("refers back")
    if text.startswith(CONNECTIVES_CHINESE) or any(
        text.startswith(c + " ") or text.startswith(c + ",") for c in CONNECTIVES_ENGLISH
    ):
        reasons.append("continues")
    for earlier in previous.words:
        if earlier in text:
            continue
        if any(_elided(words, i, earlier) for i in range(len(words))):
            reasons.append(f"drops the modifier of {earlier}")
            break
    return reasons


def _elided(words: list[str], i: int, earlier: str) -> bool:
    """``words[i]`` is the head of an earlier, longer word (街道 of 建设街道) and stands here
    without a modifier of its own (爱顿社区 is another 社区, not 凯旋社区 again)."""
    word = words[i]
    if not (len(earlier) > len(word) and earlier.endswith(word) and any(c.isalnum() for c in word)):
        return False
    before = words[i - 1] if i else ""
    own_modifier = bool(before) and bool(CJK_CHAR.match(before[-1])) and before not in INTERROGATIVES \
        and before[-1] not in CHINESE_FUNCTION and before not in REFERRING_CHINESE
    return not own_modifier


def new_subject(answerer, question: Question, previous: Turn) -> list[str]:
    """Words of the question that the corpus knows but the previous article does not: a
    question about something else (Desheng village after a question about cranes)."""
    article = "".join(fold(p.title + p.text) for p in answerer.article(previous.article_id))
    weights = answerer.retriever.weights
    return sorted(
        w for w in question_words(question)
        if len(w) >= 2 and fold(w) not in article and all(weights.document_frequency(t) for t in lexical.tokens(w))
    )


def key_words(answerer, question: Question, answer: Answer, carried: list[str]) -> list[str]:
    """The question's words that its answer's article holds (whole words, the longest of
    overlapping ones), rarest first, and the words carried from the turn this one went on from."""
    if not answer.hits:
        return []
    first = answer.hits[0]
    article = fold(first.article + "".join(p.text for p in answerer.article(first.article_id)))
    found = [w for w in question_words(question) if len(w) >= 2 and fold(w) in article]
    words = list(dict.fromkeys(found + carried))
    words = [w for w in words if not any(w != other and w in other for other in words)]  # 丹顶鹤, not 顶鹤
    idf = answerer.retriever.weights.idf
    return sorted(words, key=lambda w: -max((idf(t) for t in lexical.tokens(w)), default=0.0))[:CONTEXT_WORDS]


def ask(answerer, conversation: Conversation, raw: str, top_k: int | None = None) -> Answer:
    """The answer to ``raw`` in this conversation; the conversation remembers the turn."""
    with conversation.lock:
        return _ask(answerer, conversation, raw, top_k)


def _ask(answerer, conversation: Conversation, raw: str, top_k: int | None) -> Answer:
    previous = conversation.last()
    alone = answerer.answer(raw, top_k)
    if alone.problem:
        return alone
    question = parse_question(raw)  # parsed and translated once, for the evidence and the key words
    answerer.retriever.translate(question, answerer.corpus_is_cjk)
    answer = alone
    if previous is not None:
        reasons = refers_back(question, previous)
        if not reasons and (alone.confidence or 0.0) >= max(answerer.min_confidence, 0.5):
            return _remember(answerer, conversation, question, alone, previous)  # it stands alone: no second pass
        contextual = answerer.answer(raw, top_k, context=previous.words)
        if _better_in_context(alone, contextual, previous, reasons, answerer.min_confidence) and (
            reasons or not new_subject(answerer, question, previous)
        ):
            answer = contextual
            answer.follow_up = previous.title
            answer.context_words = list(previous.words)
    return _remember(answerer, conversation, question, answer, previous)


def _remember(answerer, conversation: Conversation, question: Question, answer: Answer,
              previous: Turn | None) -> Answer:
    if answer.hits:
        first = answer.hits[0]
        # the same thread goes on: its subject stays among the words
        carried = previous.words if previous is not None and first.article_id == previous.article_id else []
        conversation.turns.append(Turn(key_words(answerer, question, answer, carried), first.article_id, first.article))
    return answer


def _better_in_context(alone: Answer, contextual: Answer, previous: Turn, reasons: list[str],
                       cut: float) -> bool:
    if contextual.problem or not contextual.hits:
        return False
    alone_confidence = alone.confidence or 0.0
    in_context = contextual.confidence or 0.0
    if reasons:
        return in_context >= alone_confidence - WORSE_ALLOWED
    from_previous = contextual.hits[0].article_id == previous.article_id
    return from_previous and alone_confidence < max(cut, 0.5) and in_context >= alone_confidence + CONFIDENCE_GAIN
