"""What the user asked: a cleaned question, its search terms, and the kind of answer it wants.

Users paste questions from anywhere: HTML, Markdown, control characters, emoji, whole pages.
Cleaning keeps the words and drops the markup; the answer type (a number, a date, a person,
a place, a name in 《》) steers which sentence of a passage is quoted.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass, field

from embeddings import lexical
from embeddings.text import CJK_CHAR, fold, normalise, strip_control, to_simplified

MAX_QUESTION_CHARS = 500

_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
_MARKDOWN = re.compile(r"(\*\*|__|~~|`+)")
# a single * or _ of Markdown emphasis (*丹顶鹤*, _孵化_); one between letters or digits stays (snake_case, 5*3)
_EMPHASIS = re.compile(r"(?<![A-Za-z0-9])[*_]|[*_](?![A-Za-z0-9])")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_WORDISH = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)

# Question words: they say what is asked, never what is asked about, so they are not terms.
INTERROGATIVES = (
    "什么时候 什么样 什么 为什么 怎么样 怎么 怎样 如何 多少 多长 多大 多久 多高 多远 哪一年 哪年 哪天 "
    "哪一天 哪些 哪个 哪里 哪儿 哪位 哪家 哪部 哪种 谁 几 吗 呢 是否 有没有 请问"
).split()
# Single characters that carry no subject when they stand alone between question words (是谁).
CHINESE_FUNCTION = set("是的了在有和与及或吗呢吧啊呀这那个么也都就还又")
ENGLISH_STOP = set(
    "a an the is are was were be been being do does did done of in on at to for from by with and "
    "or but not no what when where who whom whose which why how many much long old i me my you "
    "your he she him her his it its this that these those there their they them we us our tell "
    "please about as into than then so if any some all can could would should will shall may "
    "might must has have had having get got also more most very just only other such".split()
)

ANSWER_TYPES = {
    "date": re.compile(r"什么时候|哪一?年|哪一?天|几月|几号|何时|日期|\bwhen\b|what year|what date", re.I),
    "number": re.compile(r"多少|几[个只次人名位家项年天岁枚户吨元万%]?|多[长大久高远重]|\bhow (many|much|long|old)\b", re.I),
    "person": re.compile(r"谁|哪位|什么人|\bwho(m|se)?\b", re.I),
    "place": re.compile(r"哪里|哪儿|在哪|什么地方|何处|位于|\bwhere\b", re.I),
    # names, titles and the other names of things (aliases, nicknames, honours)
    "name": re.compile(
        r"叫什么|什么名|名字|名称|哪部|哪首|《|别称|别名|又称|又名|简称|称号|美誉|外号|绰号|"
        r"\bwhat is the name\b|\bcalled\b|\bknown as\b|\bnickname", re.I,
    ),
}


# questions whose answer is an explanation, often a whole sentence or two
EXPLANATION = re.compile(r"为什么|为何|原因|怎么|怎样|如何|什么是|是什么|\bwhy\b|\bhow\b|\bwhat is\b", re.I)

_LATIN_LETTER = re.compile(r"[A-Za-z]")
CONTEXT_WEIGHT = 0.5  # a context word counts half as much as the question's own


@dataclass
class Question:
    raw: str
    text: str  # what the user asked, cleaned of markup: shown back to them
    terms: list[str] = field(default_factory=list)  # search terms, in simplified characters
    answer_types: set[str] = field(default_factory=set)
    truncated: bool = False
    # Chinese search terms translated from an English question, with their weight (0..1];
    # filled against a corpus by ``HybridRetriever.translate``; empty when there is no English
    translated: dict[str, float] = field(default_factory=dict)
    translated_words: set[str] = field(default_factory=set)  # English terms the translations stand for
    translations: dict[str, tuple[str, ...]] = field(default_factory=dict)  # English phrase -> its Chinese words
    simplified: str = ""  # ``text`` with traditional characters made simplified: searched and encoded
    # the previous turn's key words, for a question that leans on it (bot/conversation.py):
    # searched at CONTEXT_WEIGHT, and put before the question for the dense encoder
    context_words: list[str] = field(default_factory=list)
    context: dict[str, float] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.text

    @property
    def has_words(self) -> bool:
        return bool(_WORDISH.search(self.text))

    @property
    def script(self) -> str:
        """``cjk`` when the question is written in Chinese, ``latin`` in Latin letters (a mixed
        question by the words most of it is written in: "what is the 得胜村 village song called?"
        is an English question naming a Chinese village), ``other`` for any other script."""
        if CJK_CHAR.search(self.text):
            return "latin" if written_mostly_in_latin(self.text) else "cjk"
        letters = [c for c in self.text if c.isalpha()]
        if letters and sum(bool(_LATIN_LETTER.match(c)) for c in letters) >= 0.5 * len(letters):
            return "latin"
        return "other" if letters else "cjk"

    @property
    def names_nothing(self) -> bool:
        """Its own search terms are single Latin letters (the s of a stray "'s", the u and s of
        "U.S."): nothing a passage could be found by, though the encoder would still find one."""
        return bool(self.terms) and not self.context and all(len(t) == 1 and t.isascii() and t.isalpha() for t in self.terms)

    @property
    def mixed_english(self) -> bool:
        """An English question that writes some of its words in Chinese (得胜村 village song):
        its evidence is calibrated apart (``bot.confidence``)."""
        return self.script == "latin" and bool(CJK_CHAR.search(self.text))

    @property
    def mixed_chinese(self) -> bool:
        """A Chinese question that writes a common word in English (辽河的 fishing ban): lower
        case, unlike the names and brands Chinese questions keep in Latin letters (NFL, Sky+HD).
        Its evidence is calibrated apart too."""
        return self.script == "cjk" and bool(_COMMON_ENGLISH_WORD.search(self.text))

    @property
    def asks_reason(self) -> bool:
        """It asks why or how, or what something is: the answer is an explanation."""
        return bool(EXPLANATION.search(self.text))

    @property
    def latin_words(self) -> list[str]:
        return [t for t in self.terms if t.isascii() and t[:1].isalpha()]

    @property
    def weighted_terms(self) -> dict[str, float]:
        """Every search term with its weight: the question's own at 1, translations below."""
        weights = {term: 1.0 for term in self.terms if term not in self.translated_words}
        for term, weight in self.translated.items():
            weights[term] = max(weights.get(term, 0.0), weight)
        for term, weight in self.context.items():
            weights.setdefault(term, weight)
        return weights

    @property
    def encoded_text(self) -> str:
        """What the dense encoder reads: the question, after the context it leans on."""
        return " ".join(self.context_words + [self.simplified]) if self.context_words else self.simplified


LATIN_WORD = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")  # an English word (don't, red-crowned)
_COMMON_ENGLISH_WORD = re.compile(r"(?<![A-Za-z])[a-z]{3,}(?![A-Za-z])")
_QUOTED = re.compile(r"《[^》]*》|「[^」]*」|『[^』]*』|“[^”]*”|\"[^\"]*\"")


@functools.lru_cache(maxsize=256)
def written_mostly_in_latin(text: str) -> bool:
    """More of a mixed question's words are Latin than Chinese (jieba's words, question words
    and particles included: they carry the sentence's grammar, which is the language it is in).
    A quoted title is one word of either (《This Is Where I Came In》是谁的专辑 is Chinese)."""
    text = _QUOTED.sub(" 《》 ", text)
    latin = len(LATIN_WORD.findall(text))
    if not latin:
        return False
    chinese = sum(bool(CJK_CHAR.search(w)) for w in lexical.segmenter().cut(LATIN_WORD.sub(" ", text)))
    return latin > chinese


@functools.lru_cache(maxsize=256)
def asked_about(simplified: str) -> str:
    """The question folded (as index tokens see text), its question words blanked out: what it
    asks about. Cached: every hit and every step of a question asks for it."""
    text = fold(simplified)
    for word in INTERROGATIVES:
        text = text.replace(word, " ")
    return text


@functools.lru_cache(maxsize=256)
def asked_about_words(simplified: str) -> tuple[str, ...]:
    """jieba's words of ``asked_about``, stripped; a blank ('') stands where a question word or
    a space separated them."""
    return tuple(w.strip() for w in lexical.segmenter().cut(asked_about(simplified)))


def clean(raw: str) -> tuple[str, bool]:
    """The question's words without markup or control characters, and whether it was cut."""
    text = strip_control(raw or "")
    text = _LINK.sub(r"\1", text)
    text = html.unescape(_TAG.sub(" ", text))
    text = _EMPHASIS.sub("", _MARKDOWN.sub("", text))
    text = re.sub(r"^\s*(#+|>+|[-*+]\s)\s*", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    truncated = len(text) > MAX_QUESTION_CHARS
    return text[:MAX_QUESTION_CHARS], truncated


def query_terms(text: str) -> list[str]:
    """Lexical search terms: the index's own tokens, minus question words and function words."""
    stripped = normalise(text).lower()
    for word in INTERROGATIVES:
        stripped = stripped.replace(word, " ")
    terms = [t for t in lexical.tokens(stripped) if not is_english_stop(t) and t not in CHINESE_FUNCTION]
    return list(dict.fromkeys(terms))


_CONTRACTION = re.compile(r"(?:n['’]t|['’](?:s|re|ve|ll|d|m))$")


def is_english_stop(word: str) -> bool:
    """A question or function word, contracted too (what's, it's, didn't)."""
    return word in ENGLISH_STOP or _CONTRACTION.sub("", word) in ENGLISH_STOP


def parse_question(raw: str) -> Question:
    text, truncated = clean(raw)
    question = Question(raw=raw, text=text, truncated=truncated, simplified=to_simplified(text))
    if text:
        question.terms = query_terms(question.simplified)
        question.answer_types = {kind for kind, pattern in ANSWER_TYPES.items() if pattern.search(text)}
        if "date" in question.answer_types:
            question.answer_types.discard("number")
    return question


def with_context(question: Question, words: list[str]) -> None:
    """The previous turn's key words join the question's search terms at CONTEXT_WEIGHT."""
    own = set(question.terms)
    question.context_words = [w for w in words if w not in question.simplified]
    for word in question.context_words:
        for term in query_terms(word):
            if term not in own:
                question.context[term] = CONTEXT_WEIGHT
