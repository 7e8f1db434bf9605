"""What the user asked: a cleaned question, its search terms, and the kind of answer it wants.

Users paste questions from anywhere: HTML, Markdown, control characters, emoji, whole pages.
Cleaning keeps the words and drops the markup; the answer type (a number, a date, a person,
a place, a name in 《》) steers which sentence of a passage is quoted.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from embeddings import lexical
from embeddings.text import normalise, strip_control

MAX_QUESTION_CHARS = 500

_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
_MARKDOWN = re.compile(r"(\*\*|__|~~|`+)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_WORDISH = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)

# Question words: they say what is asked, never what is asked about, so they are not terms.
_INTERROGATIVES = (
    "什么时候 什么样 什么 为什么 怎么样 怎么 怎样 如何 多少 多长 多大 多久 多高 多远 哪一年 哪年 哪天 "
    "哪一天 哪些 哪个 哪里 哪儿 哪位 哪家 哪部 哪种 谁 几 吗 呢 是否 有没有 请问"
).split()
_ENGLISH_STOP = set(
    "a an the is are was were be been do does did of in on at to for from by with and or what "
    "when where who whom whose which why how many much long i me my you your it its this that "
    "there their they tell please about".split()
)

ANSWER_TYPES = {
    "date": re.compile(r"什么时候|哪一?年|哪一?天|几月|几号|何时|日期|\bwhen\b|what year|what date", re.I),
    "number": re.compile(r"多少|几[个只次人名位家项年天岁枚户吨元万%]?|多[长大久高远重]|\bhow (many|much|long|old)\b", re.I),
    "person": re.compile(r"谁|哪位|什么人|\bwho(m|se)?\b", re.I),
    "place": re.compile(r"哪里|哪儿|在哪|什么地方|何处|\bwhere\b", re.I),
    "name": re.compile(r"叫什么|什么名|名字|名称|哪部|哪首|《|\bwhat is the name\b|\bcalled\b", re.I),
}


@dataclass
class Question:
    raw: str
    text: str
    terms: list[str] = field(default_factory=list)
    answer_types: set[str] = field(default_factory=set)
    truncated: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.text

    @property
    def has_words(self) -> bool:
        return bool(_WORDISH.search(self.text))


def clean(raw: str) -> tuple[str, bool]:
    """The question's words without markup or control characters, and whether it was cut."""
    text = strip_control(raw or "")
    text = _LINK.sub(r"\1", text)
    text = html.unescape(_TAG.sub(" ", text))
    text = _MARKDOWN.sub("", text)
    text = re.sub(r"^\s*(#+|>+|[-*+]\s)\s*", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    truncated = len(text) > MAX_QUESTION_CHARS
    return text[:MAX_QUESTION_CHARS], truncated


def query_terms(text: str) -> list[str]:
    """Lexical search terms: the index's own tokens, minus question words and function words."""
    stripped = normalise(text).lower()
    for word in _INTERROGATIVES:
        stripped = stripped.replace(word, " ")
    terms = [t for t in lexical.tokens(stripped) if t not in _ENGLISH_STOP]
    return list(dict.fromkeys(terms))


def parse_question(raw: str) -> Question:
    text, truncated = clean(raw)
    question = Question(raw=raw, text=text, truncated=truncated)
    if text:
        question.terms = query_terms(text)
        question.answer_types = {kind for kind, pattern in ANSWER_TYPES.items() if pattern.search(text)}
        if "date" in question.answer_types:
            question.answer_types.discard("number")
    return question
