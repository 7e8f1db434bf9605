"""Which words of an excerpt to highlight: the question's words, whole, never stray pairs.

Retrieval matches character pairs, which is right for finding passages and wrong for showing
them: 「村的」 is a pair of "得胜村的村歌" and of "办好农村的事情", but not a word of either.
Highlights follow jieba's words instead: the question's words (as jieba cuts the question)
are marked wherever they stand in the excerpt, and so is an excerpt word that is part of a
longer question word (得胜 of 得胜村). A lone Chinese character is never marked on its own, and
Latin words and numbers only whole.
"""

from __future__ import annotations

import functools

from embeddings.lexical import segmenter
from embeddings.text import CJK_CHAR, fold

from .question import CHINESE_FUNCTION, ENGLISH_STOP, Question, asked_about_words


def question_words(question: Question) -> set[str]:
    """The question's own words (and its translations' words), without question words."""
    cut = asked_about_words(question.simplified)
    words = set(cut)
    # neighbours that jieba split (得胜 + 村) are one name together; a function character is not
    words |= {a + b for a, b in zip(cut, cut[1:]) if a and b and not ({a, b} & CHINESE_FUNCTION)
              and CJK_CHAR.match(a) and CJK_CHAR.match(b) and len(a + b) <= 6}
    words |= {term for term in question.translated if len(term) >= 2}
    words |= {term for term in question.terms if not CJK_CHAR.search(term)}  # numbers, Latin words
    return {
        w for w in words
        if w and w not in ENGLISH_STOP and not (len(w) == 1 and (CJK_CHAR.match(w) or w in CHINESE_FUNCTION))
        and any(c.isalnum() for c in w)
    }


def highlight_spans(excerpt: str, words: set[str]) -> list[tuple[int, int]]:
    """Spans of ``excerpt`` to mark, merged, in order; ``words`` from ``question_words``."""
    if not words:
        return []
    folded = fold(excerpt)
    excerpt_words = _words_of(folded)
    word_of = [0] * len(folded)  # which excerpt word each character belongs to
    for number, (_, start, end) in enumerate(excerpt_words):
        word_of[start:end] = [number] * (end - start)
    spans = []
    for word in words:  # a question word wherever it stands (Latin words and numbers whole)
        at = folded.find(word)
        while at >= 0:
            end = at + len(word)
            if word.isascii():
                whole = (at == 0 or not folded[at - 1].isalnum()) and (end == len(folded) or not folded[end].isalnum())
            else:  # whole words or parts of one (辽河 of 辽河流域); not 「河流」 astride 辽河|流域
                whole = _aligned(excerpt_words, word_of, at, end)
            if whole:
                spans.append((at, end))
            at = folded.find(word, at + 1)
    long_words = [w for w in words if len(w) >= 2 and CJK_CHAR.search(w)]
    for word, start, end in excerpt_words:  # a word of the excerpt that is part of one
        if len(word) >= 2 and CJK_CHAR.search(word) and any(word in other for other in long_words):
            spans.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@functools.lru_cache(maxsize=4096)
def _words_of(folded: str) -> tuple[tuple[str, int, int], ...]:
    """jieba's words of an excerpt (the same excerpts come back for other questions)."""
    return tuple(segmenter().tokenize(folded))


def _aligned(words: tuple[tuple[str, int, int], ...], word_of: list[int], start: int, end: int) -> bool:
    """``[start, end)`` begins where an excerpt word begins (村歌 in 村|歌唱, where jieba cuts the
    excerpt otherwise than the question), or is the tail of one word (流域 of 辽河流域); not a
    pair begun inside a word (河流 of 辽河流域, 「村的」 of 农村|的)."""
    _, word_start, word_end = words[word_of[start]]
    return start == word_start or end == word_end
