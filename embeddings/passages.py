"""Articles into passages: one passage per paragraph, long paragraphs split into parts.

A paragraph longer than ``PASSAGE_MAX_CHARS`` (an export with no paragraph breaks can be one
"paragraph" of millions of characters) is cut at sentence ends into parts of about equal size,
each a passage that keeps its article and paragraph citation; a sentence longer than the cap is
cut at clause marks, then at spaces, then anywhere. Every part is a verbatim slice.
"""

from __future__ import annotations

import math
import re

from .documents import Article, Passage, stable_id
from .text import sentence_spans

_CLAUSE_CUT = re.compile(r"[，,、：:；;）)」』”]")


def passages_of(articles: list[Article], max_chars: int) -> list[Passage]:
    passages = []
    for position, article in enumerate(articles):
        article_id = stable_id(article.source, str(position), article.title)
        for ordinal, paragraph in enumerate(article.paragraphs, start=1):
            parts = split_long(paragraph.text, max_chars)
            for part, (start, end) in enumerate(parts, start=1 if len(parts) > 1 else 0):
                text = paragraph.text[start:end]
                passages.append(
                    Passage(
                        id=stable_id(article.source, text),
                        text=text,
                        article_id=article_id,
                        title=article.title,
                        ordinal=ordinal,
                        part=part,
                        source=article.source,
                        subtitle=article.subtitle,
                        section=paragraph.section,
                        byline=article.byline,
                        date=article.date,
                        url=article.url,
                        sentences=sentence_spans(text),
                    )
                )
    return passages


def split_long(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Spans of ``text`` of at most ``max_chars`` each, cut at the best boundary available."""
    if len(text) <= max_chars:
        return [(0, len(text))]
    target = math.ceil(len(text) / math.ceil(len(text) / max_chars))
    pieces: list[tuple[int, int]] = []
    start = end = 0
    for sentence_start, sentence_end in sentence_spans(text):
        for a, b in _fitting(text, sentence_start, sentence_end, max_chars):
            if end > start and b - start > target:
                pieces.append((start, end))
                start = a
            end = b
    if end > start:
        pieces.append((start, end))
    return pieces


def _fitting(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """A sentence as it is, or cut into pieces under the cap."""
    if end - start <= max_chars:
        return [(start, end)]
    pieces = []
    while end - start > max_chars:
        window = text[start : start + max_chars]
        cut = max((m.end() for m in _CLAUSE_CUT.finditer(window)), default=0)
        if cut < max_chars // 3:
            cut = window.rfind(" ") + 1
        if cut < max_chars // 3:
            cut = max_chars
        piece_end = start + cut
        pieces.append((start, piece_end))
        start = piece_end
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        pieces.append((start, end))
    return pieces
