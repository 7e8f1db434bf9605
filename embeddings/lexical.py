"""Chinese-aware tokens for the BM25 index.

Character bigrams find any two-character overlap even where the word segmenter disagrees
between question and passage; jieba's longer words reward exact multi-character terms;
numbers with their unit (``3410``, ``2.2万``, ``70%``) and Latin words stay whole.
"""

from __future__ import annotations

import functools
import logging
import re

from .text import fold

_CJK_RANGE = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(
    r"(?P<number>\d+(?:[.,]\d+)*(?:%|万|亿)?)"
    r"|(?P<latin>[a-z][a-z0-9]*(?:['’-][a-z0-9]+)*)"
    rf"|(?P<cjk>[{_CJK_RANGE}]+)"
)


@functools.cache
def segmenter():
    """Imported and quietened once: ``setLogLevel`` clears logging's caches, which cost more
    than the segmentation itself when it ran for every run of characters. Its dictionary comes
    from the trie in the model cache (``word_dictionary``): mapped at once instead of a second's load."""
    import jieba

    from .config import model_cache_dir
    from .word_dictionary import install

    jieba.setLogLevel(logging.WARNING)
    install(jieba.dt, model_cache_dir())
    return jieba


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """Tokens with the character span they cover in ``text`` (NFKC keeps lengths for CJK)."""
    folded = fold(text)
    spans: list[tuple[str, int, int]] = []
    for match in _TOKEN.finditer(folded):
        kind, value, start = match.lastgroup, match.group(), match.start()
        if kind != "cjk":
            spans.append((value, start, match.end()))
            continue
        if len(value) == 1:
            spans.append((value, start, start + 1))
            continue
        for i in range(len(value) - 1):
            spans.append((value[i : i + 2], start + i, start + i + 2))
        offset = 0
        for word in segmenter().cut_for_search(value):
            at = value.find(word, offset if len(word) > 2 else 0)
            if len(word) > 2 and at >= 0:
                spans.append((word, start + at, start + at + len(word)))
    return spans


def tokens(text: str) -> list[str]:
    return [token for token, _, _ in token_spans(text)]


@functools.lru_cache(maxsize=8192)
def token_set(text: str) -> frozenset[str]:
    """The distinct tokens of a text that comes back (an excerpt shown for several questions)."""
    return frozenset(tokens(text))
